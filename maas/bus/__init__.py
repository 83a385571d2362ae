"""Buses: one protocol, in-process memory and RabbitMQ side by side.

- :mod:`maas.bus.message`: the JSON message (ids, never documents), routing keys
  ``<action>.<family>``, child messages and chunking.
- :mod:`maas.bus.topology`: exchanges, work queues, their delay queues and DLQs, retry policies.
- :mod:`maas.bus.base`: the :class:`~maas.bus.base.Bus` protocol (publish with confirms, fetch
  batches round-robin, ack / retry / dead-letter, DLQ inspection) and the settling logic both
  backends share.
- :mod:`maas.bus.memory` and :mod:`maas.bus.rabbitmq`: the backends;
  :func:`maas.bus.factory.create_bus` picks one from the URL (pika is imported only for AMQP).
"""
