"""One stream's conversion plan: built once, run on every record. Pure.

A :class:`StreamPlan` is made from the stream's schema-bound mapping (which paths to
read), the stream schema (the types those paths must hold, with ``validate_records``)
and the field registry (each field's converter and normalizer, through the modules of
:mod:`..conversion`), with the settings that shape an event (partner name, default
country, the output's rules). :meth:`StreamPlan.convert` runs it on one record and
returns the event, or the reasons there is none:

- the plan unrolled (:mod:`._codegen.fastpath`): one generated function of the same
  converters, normalizers and checks, inlining only the converters' own usual-case
  forms, takes the usual record and checks the schema's types as it reads;
- any other record goes through the same steps one by one
  (:func:`~target_pinterest_conversions.conversion.pipeline.convert_record`), which
  gives the reasons, dropped values and warnings;
- with ``validate_records`` on and types the unrolling cannot check as it reads, the
  mapped-field validator runs first.

Where the unrolling checks all a record needs, the plan also names the part of a record
it reads (:attr:`StreamPlan.partial_type`, see :mod:`.partial`): the reader may then
decode only that part of a line, and :meth:`StreamPlan.convert_partial` asks for the
whole record only when the unrolled plan cannot take the part.

The sink only acts on the outcome (queue, dead-letter, skip, count).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from target_pinterest_conversions.conversion._codegen.emit import Decoded
from target_pinterest_conversions.conversion._codegen.fastpath import FastPath, compile_fast_path
from target_pinterest_conversions.conversion.partial import partial_record_type
from target_pinterest_conversions.conversion.pipeline import Conversion, convert_record, record_key
from target_pinterest_conversions.conversion.reading import StreamReader
from target_pinterest_conversions.conversion.schema import MappedFieldsValidator
from target_pinterest_conversions.mapping.spec import StreamMapping


class Converted(NamedTuple):
    """One record's outcome: its key, and either the fast path's event or conversions.

    ``event`` is set when the fast path gave the record's one valid event (nothing
    dropped, nothing to warn about); otherwise ``conversions`` holds one
    :class:`Conversion` per event the record gives, each valid, rejected or skipped.
    """

    key: dict[str, Any]
    event: dict[str, Any] | None
    conversions: Sequence[Conversion]


class StreamPlan:
    """One stream's plan: its mapping, schema checks and settings, and its unrolling."""

    def __init__(
        self,
        mapping: StreamMapping,
        schema: Mapping[str, Any],
        key_properties: Sequence[str],
        *,
        validate: bool = True,
        partner_name: str | None = None,
        default_country: str | None = None,
        output: str = "api",
    ) -> None:
        self.mapping = mapping
        #: The mapping's generated reader: raw events, and the record's ad account.
        self.reader = StreamReader(mapping)
        self.output = output
        self.key_properties = list(key_properties)
        self.partner_name = partner_name
        self.default_country = default_country
        self.validator: MappedFieldsValidator | None = None
        if validate:
            paths = [path for _, path in mapping.record_paths()]
            self.validator = MappedFieldsValidator(schema, paths)
        types = self.validator.type_schema if self.validator else None
        fast = self._compile(types)
        #: The validator runs before conversion unless the unrolled plan checks the types.
        self.check_first = self.validator is not None and (types is None or fast is None)
        self.fast_path: FastPath | None = fast if fast is not None else self._compile(None)
        #: The part of a record the unrolled plan reads, or ``None`` when it needs the
        #: whole: the validator runs first, or an event id is derived from the record.
        self.partial_type: type[dict[str, Any]] | None = None
        self._partial_fast_path = self.fast_path
        if self.fast_path is not None and not self.check_first and self.key_properties:
            partial = partial_record_type(mapping, self.key_properties, types)
            self.partial_type = partial.record
            if types is not None and fast is not None and partial.checked:
                # Where the decoder admitted only the schema's types, the unrolled plan
                # does not check them again, and reads a fallback only up to a value.
                self._partial_fast_path = self._compile(types, decoded=partial.checked.__contains__)

    def _compile(
        self, types: Mapping[str, Any] | None, *, decoded: Decoded | None = None
    ) -> FastPath | None:
        return compile_fast_path(
            self.mapping,
            partner_name=self.partner_name,
            default_country=self.default_country,
            types=types,
            output=self.output,
            decoded=decoded,
        )

    def convert(self, record: dict[str, Any], now: int) -> Converted:
        """Return the record's outcome at Unix time ``now``."""
        key = record_key(record, self.key_properties, self.mapping.hashed_paths)
        check_first = self.check_first
        if check_first and (rejected := self._schema_rejection(record, key)):
            return rejected
        if self.fast_path is not None:
            event = self.fast_path(record, key if self.key_properties else record, now)
            if event is not None:
                return Converted(key, event, ())
        if not check_first and (rejected := self._schema_rejection(record, key)):
            return rejected
        conversions = convert_record(
            record,
            self.mapping,
            key_properties=self.key_properties,
            now=now,
            partner_name=self.partner_name,
            default_country=self.default_country,
            output=self.output,
            reader=self.reader,
        )
        return Converted(key, None, conversions)

    def convert_partial(
        self, record: dict[str, Any], now: int, whole: Callable[[], dict[str, Any]]
    ) -> Converted:
        """:meth:`convert` for a record decoded as :attr:`partial_type`.

        The unrolled plan reads only that part (without type checks where the decoder
        made them); a record it does not take is decoded whole (``whole()``) and
        converted as any other, so the outcome is the same.
        """
        fast = self._partial_fast_path
        if fast is not None:
            key = record_key(record, self.key_properties, self.mapping.hashed_paths)
            event = fast(record, key, now)
            if event is not None:
                return Converted(key, event, ())
        return self.convert(whole(), now)

    def ad_account(self, record: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The record's ad account, or why it has none (see :meth:`StreamReader.ad_account`)."""
        return self.reader.ad_account(record)

    def _schema_rejection(self, record: dict[str, Any], key: dict[str, Any]) -> Converted | None:
        """The record rejected for breaking the stream schema on a mapped path, if it does."""
        if self.validator is None:
            return None
        reasons = self.validator.errors(record)
        if not reasons:
            return None
        return Converted(key, None, [Conversion(event=None, key=key, reasons=reasons)])
