"""Median latency of a warm ARM GET and a warm Graph GET through the real SDKs.

Run: ``.venv/bin/python benchmarks/emulator_latency.py [--n 200]``. Starts a private emulator
on a temporary state folder, creates one APIM service and one Graph application, then times
``api_management_service.get`` (azure-mgmt-apimanagement aio) and
``applications.by_application_id(id).get()`` (msgraph-sdk) after a warm-up. Goal: < 10 ms each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.emulator import RunningEmulator, start_emulator


async def _measure(emu: RunningEmulator, n: int) -> tuple[float, float]:
    from msgraph.generated.models.application import Application

    rc = emu.resource_client()
    async with rc:
        await rc.resource_groups.create_or_update("bench", {"location": "westeurope"})
    apim = emu.apim_client()
    async with apim, emu.graph_client() as graph:
        poller = await apim.api_management_service.begin_create_or_update(
            "bench",
            "bench-apim",
            {
                "location": "westeurope",
                "sku": {"name": "Developer", "capacity": 1},
                "publisher_email": "a@b.c",
                "publisher_name": "bench",
            },
        )
        await poller.result()
        app = await graph.applications.post(Application(display_name="bench"))
        arm: list[float] = []
        gr: list[float] = []
        for i in range(n + 20):
            t0 = time.perf_counter()
            await apim.api_management_service.get("bench", "bench-apim")
            t1 = time.perf_counter()
            await graph.applications.by_application_id(app.id).get()
            t2 = time.perf_counter()
            if i >= 20:
                arm.append((t1 - t0) * 1000)
                gr.append((t2 - t1) * 1000)
    return statistics.median(arm), statistics.median(gr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        emu = start_emulator(Path(tmp) / "state", "--apim-create-seconds", "0")
        try:
            arm, graph = anyio.run(_measure, emu, args.n)
        finally:
            emu.stop()
    print(
        f"warm ARM GET   (ApiManagementClient.api_management_service.get): median {arm:.2f} ms over {args.n}"
    )
    print(
        f"warm Graph GET (GraphServiceClient.applications.by_application_id.get): median {graph:.2f} ms over {args.n}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
