"""Twilio without SIP: the call webhook answers with TwiML that opens a Media Stream, a
websocket carrying the call as 8 kHz µ-law; the stream feeds the same call code as an
Asterisk call (`TwilioMediaLink` under `CallMedia`, `TwilioLine` for hang-up and transfer).

Every webhook proves itself with X-Twilio-Signature (`signature`); a stream proves that our
webhook started it with a short-lived token passed as a stream parameter."""
