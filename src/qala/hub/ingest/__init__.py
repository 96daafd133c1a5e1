"""IoT ingestion in the FIWARE IoT Agent JSON style: device groups and devices provisioned
through ``/iot/services`` and ``/iot/devices``, measurements over HTTP (``/iot/json``) and
MQTT (``/{apikey}/{device_id}/attrs``) written into the hub in batches."""
