"""The library's JSON transcoder, with orjson writing: the same stored bytes, 2.7× faster.

Stored events are hashed into the audit chain, so the bytes may never change: this writes
exactly what `eventsourcing`'s `JSONTranscoder` writes (compact separators, UTF-8, each
registered type as `{"_type_": name, "_data_": …}`). orjson encodes
UUIDs and datetimes natively, so registered types are replaced first by a walk over the (small)
event state; anything orjson would write differently from `json` — a float (its own shortest
form), an integer beyond 64 bits, a NaN — goes through the library's own encoder instead.
Reading stays the library's: measured on a payment's events, orjson plus the walk that turns
`_type_` objects back into values took 30 µs an event against json's 23 (the read side's hot
path, storage/decode.py, already reads with orjson and decodes values lazily).
tests/unit/test_transcoder.py pins the bytes, on events stored by the library's transcoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError


class _Unsure(Exception):
    """orjson might not write what `json` writes: let the library's encoder do it."""


_MEMO = 65_536  # UUIDs prepared and kept: a register's accounts, suppliers and bills


class OrjsonTranscoder(JSONTranscoder):
    def __init__(self) -> None:
        super().__init__()
        self._uuids: dict[UUID, Any] = {}
        self._last_time: tuple[datetime, Any] | None = None

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._prepare(obj))
        except (_Unsure, orjson.JSONEncodeError, TypeError, TranscodingNotRegisteredError):
            return super().encode(obj)  # the library's bytes, or the library's own error

    def encode_fields(self, names: Sequence[str], values: Mapping[str, Any]) -> bytes:
        """`encode({name: values[name] for name in names})` for a new event's state
        (storage/encode.py), quicker where a bulk import's states repeat themselves: the
        UUIDs they name (an account, its supplier) are prepared once, the time once for a
        line's two events. The same bytes: every other value goes through `_prepare`, and
        anything unsure through `encode`."""
        prepared: dict[str, Any] = {}
        try:
            for key in names:
                value = values[key]
                held = type(value)
                if held is str or value is None or (held is int and -(2**63) <= value < 2**64):
                    prepared[key] = value
                elif held is UUID:
                    prepared[key] = self._uuid(value)
                elif held is datetime:
                    prepared[key] = self._datetime(value)
                else:
                    prepared[key] = self._prepare(value)
            return orjson.dumps(prepared)
        except (_Unsure, orjson.JSONEncodeError, TypeError, TranscodingNotRegisteredError):
            return self.encode({name: values[name] for name in names})

    def _uuid(self, value: UUID) -> Any:
        prepared = self._uuids.get(value)
        if prepared is None:
            if len(self._uuids) >= _MEMO:
                self._uuids.clear()
            prepared = self._uuids[value] = self._prepare(value)
        return prepared

    def _datetime(self, value: datetime) -> Any:
        last = self._last_time
        if last is None or last[0] is not value:
            last = self._last_time = (value, self._prepare(value))
        return last[1]

    def _prepare(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is str or kind is bool or obj is None:
            return obj
        if kind is int:
            if -(2**63) <= obj < 2**64:
                return obj
            raise _Unsure
        if kind is dict:
            prepared = {}
            # The common values (text, None, small integers) inline: a call each was most of
            # the cost of an event's walk.
            for key, value in obj.items():
                if type(key) is not str:
                    raise _Unsure  # json's own rules for keys
                held = type(value)
                if (
                    held is str
                    or value is None
                    or held is bool
                    or (held is int and -(2**63) <= value < 2**64)
                ):
                    prepared[key] = value
                else:
                    prepared[key] = self._prepare(value)
            return prepared
        if kind is list or kind is tuple:
            return [self._prepare(item) for item in obj]
        transcoding = self.types.get(kind)
        if transcoding is not None:
            data = transcoding.encode(obj)
            if type(data) is not str:  # a UUID's hex or a datetime's ISO text is final
                data = self._prepare(data)
            return {"_type_": transcoding.name, "_data_": data}
        if isinstance(obj, str | int) and not isinstance(obj, bool):
            # A str or int subclass (a StrEnum, an IntEnum): json writes its plain value.
            return str.__str__(obj) if isinstance(obj, str) else self._prepare(int(obj))
        if kind is float:
            raise _Unsure  # orjson's shortest float is not always repr()'s
        raise TranscodingNotRegisteredError(kind)
