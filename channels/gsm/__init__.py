"""A GSM line on a SIM7600G-H modem: AT commands and URCs on one USB serial port, the call's
voice as 8 kHz PCM on another (AT+CPCMREG=1), SMS (PDU and text mode), USSD, health and
reconnect; or, for sites running a channel driver, AMI actions for chan_dongle/chan_quectel.
"""
