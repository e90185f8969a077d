"""Start moto_server with moto's own event-source-mapping dispatch switched off.

moto 5.x wires every event source mapping into the source itself: each DynamoDB write
and each SQS SendMessage tries to run the function in Docker, synchronously, inside the
request. Without Docker that "invocation" fails, and the side effects break the local
runtime (dev/local/runtime.ts), which is the only thing that should consume the sources:

  * DynamoDB: the failed invoke still returns a truthy body, so moto empties the stream
    shard after every write (GetRecords never sees a record) and restarts sequence
    numbers; a write with a binary attribute fails with HTTP 500 (bytes not JSON-able).
  * SQS: moto receives the message itself first, bumping ApproximateReceiveCount, and
    may hide it from a concurrent receive.

This keeps the mappings (they are listed, updated and deleted as usual) but detaches
them from the tables, queues and Kinesis streams, and marks the server so the runtime
can tell (GET /moto-api/config has "regionsync": {"esmDispatch": false}).

Usage: python3 moto_bootstrap.py [moto_server arguments, e.g. -H 127.0.0.1 -p 5000]
"""

import sys
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.moto_api._internal.models import MotoAPIBackend

import moto_cloudwatch  # noqa: F401  (percentile statistics; see moto_cloudwatch.py)


def _detach(esm: Any, owners: Any) -> None:
    for owner in owners:
        hooks = getattr(owner, "lambda_event_source_mappings", None)
        if not hooks:
            continue
        for key in [k for k, v in hooks.items() if v is esm]:
            del hooks[key]


def _sources(account_id: str, region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends
    from moto.kinesis.models import kinesis_backends
    from moto.sqs.models import sqs_backends

    yield from sqs_backends[account_id][region].queues.values()
    yield from dynamodb_backends[account_id][region].tables.values()
    yield from kinesis_backends[account_id][region].streams.values()


_original_create = LambdaBackend.create_event_source_mapping


def _create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> Any:
    esm = _original_create(self, spec)
    _detach(esm, _sources(self.account_id, self.region_name))
    return esm


LambdaBackend.create_event_source_mapping = _create_event_source_mapping  # type: ignore[method-assign]

_original_get_config = MotoAPIBackend.get_config


def _get_config(self: MotoAPIBackend) -> dict[str, Any]:
    config = _original_get_config(self)
    config["regionsync"] = {"esmDispatch": False, "cloudwatchPercentiles": True}
    return config


MotoAPIBackend.get_config = _get_config  # type: ignore[method-assign]

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
