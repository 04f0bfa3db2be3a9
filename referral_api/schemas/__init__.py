"""Marshmallow schemas: request and response shapes, no database access."""
