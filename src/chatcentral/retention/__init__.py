"""Retention: what customers wrote is kept for a period, then erased; orders stay.

`purge.py` erases the bodies (and with them any media reference) of messages older than
the period, shop by shop; `job.py` runs it daily beside the outbox dispatcher when
CHATCENTRAL_RETENTION_DAYS is set; `command.py` is `chatcentral purge --older-than 180d`.
"""
