#!/usr/bin/env python3
"""Temporal peer of `onewindow bench cases`: the same case lifecycle as a Temporal workflow.

One case = one workflow execution that holds the case's state and enforces the state machine

    received --claim--> in_review --return--> returned --supplement--> in_review
             --approve--> approved --ship--> shipped --deliver--> delivered (the workflow completes)

and refuses an action that is not allowed in the current state (or by the actor's role, or without
its required fields). The seven transitions of onewindow's benchmark map to

    accept      = StartWorkflowExecution (the case's intake data is the workflow's input)
    claim ...   = the six human steps, sent as
                  signals  (--mode signal, the default: acknowledged once the server has durably
                           appended the signal to the workflow's history; the workflow applies it
                           later, and a refusal cannot reach the sender), or
                  updates  (--mode update: Workflow Updates waited on until completed, i.e. the
                           worker ran the validator and handler and the outcome is in the durable
                           history; a refusal comes back to the sender as an error, as onewindow's
                           HTTP 4xx does).

Load: --concurrency asyncio tasks, each running lifecycles one after another
(--lifecycles / --concurrency each, as onewindow does), timing each start/signal/update from sending
it until the server acknowledged it. A client does not wait for the workflow to complete before
its next lifecycle (onewindow's deliver is acknowledged once the case is delivered; a signal's is
not), so completion is awaited separately and reported as a second line.

Subcommands:
    lifecycle.py bench  --address 127.0.0.1:7233 [--lifecycles 400 --concurrency 32 --mode signal]
    lifecycle.py worker --address 127.0.0.1:7233   (bench starts one itself in a child process)

The dev server itself is started by ./run, which also calls `bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

TASK_QUEUE = "onewindow-cases"

# action -> (state it is allowed in, state it leads to, role that may do it, fields it needs)
TRANSITIONS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "claim": ("received", "in_review", "approver", ()),
    "return": ("in_review", "returned", "approver", ("comment",)),
    "supplement": ("returned", "in_review", "acceptor", ()),
    "approve": ("in_review", "approved", "approver", ()),
    "ship": ("approved", "shipped", "acceptor", ("address", "carrier", "tracking")),
    "deliver": ("shipped", "delivered", "acceptor", ()),
}
FINAL = "delivered"


@workflow.defn
class CaseWorkflow:
    """A service-centre case; its state lives in the workflow (event-sourced by Temporal)."""

    @workflow.init
    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.state = "received"
        self.claimed_by: str | None = None
        self.shipment: dict[str, str] | None = None
        self.timeline: list[dict[str, Any]] = [
            {"action": "accept", "by": case.get("by"), "to": "received", "at": workflow.now().isoformat()}
        ]
        self.refused: list[str] = []

    @workflow.run
    async def run(self, case: dict[str, Any]) -> dict[str, Any]:
        await workflow.wait_condition(lambda: self.state == FINAL and workflow.all_handlers_finished())
        return {"state": self.state, "timeline": self.timeline, "refused": self.refused}

    def _check(self, req: dict[str, Any]) -> None:
        """Raises ValueError if the action is not allowed now (state, role, required fields)."""
        action = req.get("action")
        rule = TRANSITIONS.get(action)  # type: ignore[arg-type]
        if rule is None:
            raise ValueError(f"unknown action {action!r}")
        allowed_in, _, role, needs = rule
        if self.state != allowed_in:
            raise ValueError(f"{action} not allowed in state {self.state}")
        if req.get("role") != role:
            raise ValueError(f"{action} needs role {role}, not {req.get('role')}")
        missing = [f for f in needs if not str(req.get(f) or "").strip()]
        if missing:
            raise ValueError(f"{action} needs {', '.join(missing)}")

    def _apply(self, req: dict[str, Any]) -> None:
        action = req["action"]
        _, to, _, _ = TRANSITIONS[action]
        if action == "claim":
            self.claimed_by = req.get("by")
        if action == "ship":
            self.shipment = {k: req[k] for k in ("address", "carrier", "tracking")}
        entry = {"action": action, "by": req.get("by"), "from": self.state, "to": to, "at": workflow.now().isoformat()}
        if "comment" in req:
            entry["comment"] = req["comment"]
        self.timeline.append(entry)
        self.state = to

    # Human steps as signals: durably recorded on receipt; a refusal stays inside the workflow.
    @workflow.signal
    def act(self, req: dict[str, Any]) -> None:
        try:
            self._check(req)
        except ValueError as e:
            self.refused.append(str(e))
            return
        self._apply(req)

    # Human steps as updates: the validator refuses (the caller gets the error, nothing is written
    # to history); an accepted update is applied and its outcome is in the history when it returns.
    @workflow.update
    def act_update(self, req: dict[str, Any]) -> dict[str, Any]:
        self._apply(req)
        return {"state": self.state, "transitions": len(self.timeline)}

    @act_update.validator
    def _validate(self, req: dict[str, Any]) -> None:
        self._check(req)

    @workflow.query
    def status(self) -> dict[str, Any]:
        return {"state": self.state, "transitions": len(self.timeline), "refused": self.refused}


# ---------------------------------------------------------------------------------------------
# Load driver (outside the workflow sandbox)

MATERIALS = [
    {"name": n, "status": "received"}
    for n in ("居民身份证", "户口簿", "特困人员救助供养申请书", "本人及法定义务人履行能力情况说明", "残疾人证（残疾人申请时提供）")
]
STEPS: list[dict[str, Any]] = [
    {"action": "claim", "role": "approver", "by": "approver"},
    {"action": "return", "role": "approver", "by": "approver", "comment": "补正"},
    {"action": "supplement", "role": "acceptor", "by": "acceptor"},
    {"action": "approve", "role": "approver", "by": "approver"},
    {"action": "ship", "role": "acceptor", "by": "acceptor", "address": "天马街道1号", "carrier": "EMS", "tracking": "E1"},
    {"action": "deliver", "role": "acceptor", "by": "acceptor"},
]


def percentile(sorted_s: list[float], p: float) -> float:
    """Same rule as onewindow's bench: the ceil(p% · n)-th smallest sample."""
    if not sorted_s:
        return 0.0
    rank = math.ceil(p / 100.0 * len(sorted_s))
    return sorted_s[min(max(rank, 1), len(sorted_s)) - 1]


def latency(samples: list[float]) -> str:
    s = sorted(samples)
    ms = lambda x: x * 1000.0  # noqa: E731
    return (
        f"p50 {ms(percentile(s, 50)):.2f} ms, p99 {ms(percentile(s, 99)):.2f} ms, "
        f"p99.9 {ms(percentile(s, 99.9)):.2f} ms, max {ms(s[-1] if s else 0):.2f} ms"
    )


async def start_worker(address: str, namespace: str, unsandboxed: bool) -> asyncio.subprocess.Process:
    args = [sys.executable, os.path.abspath(__file__), "worker", "--address", address, "--namespace", namespace]
    if unsandboxed:
        args.append("--unsandboxed")
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    if line.strip() != b"worker ready":
        raise RuntimeError(f"worker did not start: {line!r}")
    return proc


async def refusal_check(client: Client, run_id: str) -> None:
    """Not timed: shows the workflow refuses an action not allowed in the current state."""
    h = await client.start_workflow(
        CaseWorkflow.run, {"item": "MZJ-002", "by": "acceptor"}, id=f"case-{run_id}-check", task_queue=TASK_QUEUE
    )
    try:
        await h.execute_update(CaseWorkflow.act_update, {"action": "approve", "role": "approver", "by": "approver"})
        raise AssertionError("update: approve in state received was accepted")
    except WorkflowUpdateFailedError:
        pass
    await h.signal(CaseWorkflow.act, {"action": "approve", "role": "approver", "by": "approver"})
    await h.signal(CaseWorkflow.act, {"action": "claim", "role": "acceptor", "by": "acceptor"})  # wrong role
    await h.signal(CaseWorkflow.act, {"action": "claim", "role": "approver", "by": "approver"})
    await h.execute_update(
        CaseWorkflow.act_update, {"action": "return", "role": "approver", "by": "approver", "comment": "补正"}
    )
    st = await h.query(CaseWorkflow.status)
    assert st["state"] == "returned" and len(st["refused"]) == 2, st
    await h.terminate(reason="refusal check done")
    print(f"refusal check: update refused (approve in received); signals refused inside the workflow: {st['refused']}")


async def bench(args: argparse.Namespace) -> int:
    client = await Client.connect(args.address, namespace=args.namespace)
    worker = await start_worker(args.address, args.namespace, args.unsandboxed)
    failures = 0
    try:
        run_id = uuid.uuid4().hex[:8]
        await refusal_check(client, run_id)
        modes = ["signal", "update"] if args.mode == "both" else [args.mode]
        per = args.lifecycles // max(args.concurrency, 1)
        for mode in modes:
            failures += await bench_mode(client, mode, per, args.concurrency, f"{run_id}-{mode}")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.wait(), timeout=30)
        except asyncio.TimeoutError:
            worker.kill()
    return 1 if failures else 0


async def bench_mode(client: Client, mode: str, per: int, concurrency: int, run_id: str) -> int:
    samples: list[float] = []  # one per transition: send -> acknowledged
    lifecycle_done: list[float] = []  # one per lifecycle: accept sent -> workflow completed
    bad: list[str] = []
    waiters: list[asyncio.Task[None]] = []

    async def await_completion(h: WorkflowHandle[Any, Any], t0: float) -> None:
        r = await h.result()
        lifecycle_done.append(time.perf_counter() - t0)
        if r["state"] != FINAL or len(r["timeline"]) != 7 or r["refused"]:
            bad.append(f"{h.id}: {r['state']}, {len(r['timeline'])} transitions, refused {r['refused']}")

    async def one_client(c: int) -> None:
        for i in range(per):
            case = {
                "item": "MZJ-002",
                "applicant": {"name": "王五", "phone": "13900001111"},
                "materials": MATERIALS,
                "by": "acceptor",
            }
            t0 = time.perf_counter()
            h = await client.start_workflow(CaseWorkflow.run, case, id=f"case-{run_id}-{c}-{i}", task_queue=TASK_QUEUE)
            samples.append(time.perf_counter() - t0)
            for step in STEPS:
                t = time.perf_counter()
                if mode == "signal":
                    await h.signal(CaseWorkflow.act, step)
                else:
                    await h.execute_update(CaseWorkflow.act_update, step)
                samples.append(time.perf_counter() - t)
            waiters.append(asyncio.create_task(await_completion(h, t0)))

    wall0 = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(concurrency)))
    wall_ack = time.perf_counter() - wall0
    await asyncio.gather(*waiters)
    wall_all = time.perf_counter() - wall0

    what = "signals" if mode == "signal" else "updates (waited until completed)"
    n = len(samples)
    print(
        f"case transitions as Temporal {what} ({concurrency} concurrent clients, {per} lifecycles each): "
        f"{n} in {wall_ack:.2f} s = {n / wall_ack:.0f}/s; latency {latency(samples)}"
    )
    print(
        f"  including workflow completion (until all {len(lifecycle_done)} workflows completed): "
        f"{n} in {wall_all:.2f} s = {n / wall_all:.0f}/s; lifecycle (start sent → completed) {latency(lifecycle_done)}"
    )
    for b in bad[:5]:
        print(f"  BAD {b}")
    if bad:
        print(f"  {len(bad)} workflows did not end delivered with 7 transitions and no refusals")
    sys.stdout.flush()
    return len(bad)


async def worker_main(args: argparse.Namespace) -> None:
    client = await Client.connect(args.address, namespace=args.namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    kw: dict[str, Any] = {}
    if args.unsandboxed:
        kw["workflow_runner"] = UnsandboxedWorkflowRunner()
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[CaseWorkflow], graceful_shutdown_timeout=timedelta(seconds=5), **kw):
        print("worker ready", flush=True)
        await stop.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="run the load (starts its own worker process)")
    w = sub.add_parser("worker", help="run only the worker")
    for q in (b, w):
        q.add_argument("--address", default=os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"))
        q.add_argument("--namespace", default="default")
        q.add_argument("--unsandboxed", action="store_true", help="run workflow code without the SDK's sandbox")
    b.add_argument("--lifecycles", type=int, default=400)
    b.add_argument("--concurrency", type=int, default=32)
    b.add_argument("--mode", choices=["signal", "update", "both"], default="signal")
    args = p.parse_args()
    if args.cmd == "worker":
        asyncio.run(worker_main(args))
        return 0
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
