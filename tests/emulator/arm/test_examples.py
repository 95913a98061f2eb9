"""Azure's published examples (``x-ms-examples`` of the vendored operations) replayed on the emulator.

Every vendored example file (``emulator.contracts.loader.examples()``) is one case: its request
is sent to the emulated ARM after its parents and references were created
(``tests.support.examples``), and the answer must carry a status the example documents and every
key of the example's response body. An example the emulator cannot honour is listed in
``EXCEPTIONS`` with the reason; it runs as a strict xfail, so an exception that starts passing
fails the suite until it is removed from the list. ``test_the_replay_passes_at_least_95_percent``
holds the goal: at least 95% of the replayed examples pass (an expected failure while the
exceptions keep the share under it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.contracts import loader
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.examples import Outcome, replay

pytestmark = pytest.mark.anyio

# example file name (without .json) -> why the emulator does not honour it
EXCEPTIONS: dict[str, str] = {
    "ApiManagementCreateAILogger": (
        "example defect: its 201 body is not the answer to its request — the request sends "
        "description 'adding a new logger' and instrumentationKey '11................a1' (a redacted "
        "placeholder), the body answers description null and the key '{{5a.......2a}}'; and it carries "
        "a resourceId the request does not send: APIM names the Application Insights component that "
        "owns the key, and so does the emulator (emulator.arm.apim._component_of_key), but a "
        "placeholder key belongs to no component (a component's InstrumentationKey is read-only in "
        "components_API.json 2020-02-02, so no emulated component can be given it)"
    ),
    "ApiManagementUpdateApiOperation": (
        "example defect: the example's 200 body is another operation (57d2ef278aa04f0ad01d6cdc, CancelOrder), not the "
        "result of its PATCH: the PATCH replaces 'responses' (JSON merge-patch, as ARM) with items "
        "that have no representations"
    ),
    "ComponentsUpdate": (
        "example defect: its 200 body carries properties.LinkedStorages, which the spec's "
        "ApplicationInsightsComponentProperties (components_API.json 2020-02-02) does not have — an "
        "emulator answering the contract cannot produce it; besides, the PUT carries location, kind and "
        "tags only while the 200 answers WorkspaceResourceId of a component the example does not describe"
    ),
    "RegistriesScheduleRun": (
        "example defect: the example's runRequest has no 'type', the discriminator RunRequest requires "
        "(containerregistry_build.json: required ['type']); the emulator refuses it as the contract "
        "says (400 InvalidRequestContent naming 'type')"
    ),
    "TableOperationList": (
        "example defect: the listed tables' ids name resource group res3376 while the request lists account sto328 "
        "of res9290: one storage account name in two groups, which Azure refuses (names are global)"
    ),
}

EXAMPLES = loader.examples()
_RESULTS: dict[str, Outcome] = {}


@pytest.fixture(scope="module")
def replay_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulator of its own (default page size: lists as Azure pages them; quick APIM create)."""
    emu = start_emulator(Path(tmp_path_factory.mktemp("examples")) / "state", "--apim-create-seconds", "0.05")
    try:
        yield emu
    finally:
        emu.stop()


def case_id(example: loader.Example) -> str:
    """The example file's name (``x-ms-examples`` keys repeat across operations; files do not)."""
    return Path(example.file).stem


def _case(example: loader.Example) -> object:
    marks = []
    if case_id(example) in EXCEPTIONS:
        marks.append(pytest.mark.xfail(reason=EXCEPTIONS[case_id(example)], strict=True))
    return pytest.param(example, id=case_id(example), marks=marks)


@pytest.mark.parametrize("example", [_case(e) for e in EXAMPLES])
async def test_the_example_replays_with_a_documented_status_and_every_key(
    example: loader.Example, replay_emulator: RunningEmulator
) -> None:
    outcome = await replay(replay_emulator, example, str(EXAMPLES.index(example)))
    _RESULTS[case_id(example)] = outcome
    assert outcome.ok, str(outcome)


def test_every_exception_names_a_vendored_example() -> None:
    names = {case_id(e) for e in EXAMPLES}
    assert set(EXCEPTIONS) <= names, sorted(set(EXCEPTIONS) - names)


GOAL = 0.95
_GOAL_NOT_MET = 1 - len(EXCEPTIONS) / len(EXAMPLES) < GOAL


@pytest.mark.xfail(
    _GOAL_NOT_MET,
    reason=f"goal {GOAL:.0%} not met: {len(EXCEPTIONS)} exceptions of {len(EXAMPLES)} examples (see EXCEPTIONS)",
    strict=True,
)
def test_the_replay_passes_at_least_95_percent() -> None:
    """Runs after the cases (file order); counts what they found. While the exceptions keep the
    share under the goal this is an expected failure (strict: it must fail, and the mark goes
    once the goal is met)."""
    if len(_RESULTS) < len(EXAMPLES):
        pytest.skip("the replay cases did not all run in this session (selected subset)")
    passed = sum(1 for o in _RESULTS.values() if o.ok)
    share = passed / len(_RESULTS)
    print(f"examples replayed: {len(_RESULTS)}, passed: {passed} ({share:.1%})")
    assert share >= GOAL, "\n".join(str(o) for o in _RESULTS.values() if not o.ok)
