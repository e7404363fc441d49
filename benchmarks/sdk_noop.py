"""The SDK baselines: a target that does nothing with its records.

``default`` is what the SDK gives out of the box (stdlib JSON reader, jsonschema
validation of every record); ``tuned`` uses the SDK's own levers (the msgspec reader and a
compiled fastjsonschema validator). Usage: ``python sdk_noop.py default|tuned < input``.
"""

from __future__ import annotations

import sys

import fastjsonschema
from singer_sdk import Target
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator


class NoopSink(BatchSink):
    MAX_SIZE_DEFAULT = 1000

    def process_batch(self, context: dict) -> None:
        pass


class FastValidator(BaseJSONSchemaValidator):
    def __init__(self, schema: dict) -> None:
        super().__init__(schema)
        self._validate = fastjsonschema.compile(schema)

    def validate(self, record: dict) -> None:
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidRecord(exc.message, record) from exc


class TunedSink(NoopSink):
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        return FastValidator(self.schema)


class DefaultNoop(Target):
    name = "target-noop"
    config_jsonschema = {"type": "object", "properties": {}}
    default_sink_class = NoopSink


class TunedNoop(DefaultNoop):
    default_sink_class = TunedSink
    message_reader_class = MsgSpecReader


if __name__ == "__main__":
    kind = sys.argv[1]
    cls = TunedNoop if kind == "tuned" else DefaultNoop
    cls(config={}).listen()
