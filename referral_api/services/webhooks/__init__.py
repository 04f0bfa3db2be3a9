"""Partner webhooks (Standard Webhooks 1.0), one job a module:

- `addresses`: where a webhook may point (the SSRF guard).
- `subscriptions`: what owners manage (secrets, rotation, tests, deliveries, redelivery).
- `delivery`: what the worker does (fan-out, claims, attempts recorded).
"""
