"""Non-phone channels: Telegram bots, website widget, Twilio webhooks, GSM modem."""
