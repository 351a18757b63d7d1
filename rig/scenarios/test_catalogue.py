"""One pytest test per catalogue scenario, parametrised over the matching rigs by the plugin."""

from __future__ import annotations

import pytest

from rig.harness import NotApplicable, RigSession
from rig.scenarios.catalogue import CATALOGUE, Scenario


def _make_test(scenario: Scenario):
    def test(rig: RigSession) -> None:
        reason = scenario.not_applicable(rig.spec)
        if reason is not None:
            raise NotApplicable(reason)
        scenario.run(rig)

    test.__name__ = f"test_{scenario.id.replace('-', '_')}"
    test.__doc__ = scenario.description
    marks = [pytest.mark.scenario(scenario.id, title=scenario.title, required=scenario.required,
                                  description=scenario.description, order=scenario.order, kind=scenario.kind),
             pytest.mark.rig_device(*scenario.devices)]
    if scenario.features:
        marks.append(pytest.mark.rig_feature(*scenario.features))
    for mark in marks:
        test = mark(test)
    return test


for _scenario in CATALOGUE:
    _test = _make_test(_scenario)
    globals()[_test.__name__] = _test
del _scenario, _test
