"""Buses: one protocol, in-process memory and RabbitMQ side by side."""
