"""Alerts: what is sent (payloads), how (senders), and the delivery of each (deliverer)."""
