"""The figures of a fuzz run: operations exercised, requests sent, server errors and
schema violations seen (whether or not the failing test was later shrunk away), printed
at the end of the pytest run."""

import json
import os
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FuzzStats:
    operations: dict[str, set[str]] = field(default_factory=dict)
    declared: dict[str, int] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    server_errors: dict[str, set[str]] = field(default_factory=dict)
    nonconforming: dict[str, set[str]] = field(default_factory=dict)
    per_operation: dict[str, Counter] = field(default_factory=dict)
    tolerated: dict[str, Counter] = field(default_factory=dict)

    def declare(self, suite: str, count: int) -> None:
        self.declared[suite] = count

    def record(self, suite: str, label: str, status: int) -> None:
        self.operations.setdefault(suite, set()).add(label)
        self.requests[suite] += 1
        self.statuses[status // 100 * 100] += 1
        self.per_operation.setdefault(f"{suite} {label}", Counter())[status] += 1
        if status >= 500:
            self.server_errors.setdefault(suite, set()).add(f"{label} -> {status}")

    def tolerate(self, suite: str, deviation: str) -> None:
        self.tolerated.setdefault(suite, Counter())[deviation] += 1

    def nonconformance(self, suite: str, label: str) -> None:
        self.nonconforming.setdefault(suite, set()).add(label)

    def lines(self) -> list[str]:
        out = []
        for suite in sorted(set(self.requests) | set(self.declared)):
            covered = len(self.operations.get(suite, ()))
            declared = self.declared.get(suite)
            of = f" of {declared}" if declared is not None else ""
            out.append(
                f"{suite}: {covered}{of} operations, {self.requests[suite]} requests, "
                f"{len(self.server_errors.get(suite, ()))} operations with a 5xx, "
                f"{len(self.nonconforming.get(suite, ()))} with a non-conforming response"
            )
            for item in sorted(self.server_errors.get(suite, ())):
                out.append(f"  5xx: {item}")
            for item in sorted(self.nonconforming.get(suite, ())):
                out.append(f"  non-conforming: {item}")
            for item, count in sorted(self.tolerated.get(suite, Counter()).items()):
                out.append(f"  documented deviation ({count}x): {item}")
        statuses = ", ".join(f"{k // 100}xx: {v}" for k, v in sorted(self.statuses.items()))
        out.append(f"total: {sum(self.requests.values())} requests ({statuses})")
        return out


STATS = FuzzStats()


def trace(suite: str, label: str, request, status: int, answer: bytes) -> None:
    """With FUZZ_TRACE=<file>, append every request and answer as a JSON line (to see
    what the generators really send)."""
    path = os.environ.get("FUZZ_TRACE")
    if not path:
        return
    body = getattr(request, "body", None) or getattr(request, "content", b"") or b""
    if isinstance(body, str):
        body = body.encode()
    line = {
        "suite": suite,
        "operation": label,
        "method": request.method,
        "url": str(request.url),
        "body": body[:2000].decode(errors="replace"),
        "status": status,
        "answer": answer[:500].decode(errors="replace"),
    }
    with open(path, "a") as out:
        out.write(json.dumps(line) + "\n")
