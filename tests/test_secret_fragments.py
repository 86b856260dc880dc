"""A secret cut in half is still a secret. A service's text is quoted in messages cut to a few dozen
characters ("non-numeric value 'xxxx…tok-s3...'"): when the echoed token straddled the cut, the part before it
was shown and stored, because only the whole token was masked. Every place that cuts a service's text marks the
cut ("…" or "..."), and the part of a secret that touches a cut is masked too."""

from __future__ import annotations

import pytest

from cockpit.plan.model import Metric
from cockpit.secrets import Env
from cockpit.sources.errors import SourceError
from cockpit.sources.values import parse_json, to_value

TOKEN = "tok-s3cr3t-value"


def env() -> Env:
    e = Env({"APP_TOKEN": TOKEN})
    e.learn({"APP_TOKEN"})
    return e


@pytest.mark.parametrize("lead", range(20, 40))
def test_a_token_cut_in_a_quoted_value_is_masked(lead: int) -> None:
    with pytest.raises(SourceError) as caught:
        to_value("x" * lead + TOKEN + "y" * 30, Metric(title="Misses", source="app"))
    shown = env().redact(str(caught.value))
    assert not any(TOKEN[:k] in shown for k in range(4, len(TOKEN) + 1)), shown


@pytest.mark.parametrize("lead", range(45, 62))
def test_a_token_cut_in_a_body_snippet_is_masked(lead: int) -> None:
    with pytest.raises(SourceError) as caught:
        parse_json(("<html>" + "x" * lead + TOKEN + "</html>").encode())
    shown = env().redact(str(caught.value))
    assert not any(TOKEN[:k] in shown for k in range(4, len(TOKEN) + 1)), shown


def test_ordinary_text_is_not_masked() -> None:
    e = env()
    assert e.redact("tok- and value... and 3t-value… in prose") == "tok- and value... and 3t-value… in prose"
    assert e.redact(f"the token {TOKEN} is wrong") == "the token *** is wrong"
