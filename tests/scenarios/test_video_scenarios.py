"""Video scenarios: enough of them per language, ID checks whose right decision agrees with the CRM, and
errors naming file and field when a scenario's video section or decision is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from media.video_render import FaultProp, IdCardProp, ProductProp, scene_from_scenario
from scenarios.loader import PackError, load_pack

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_each_pack_has_six_video_scenarios_covering_the_video_skills(lang):
    """At least 6 video scenarios per language, on L4/1.3.1-1.3.2, with ID checks that match and that do
    not, shopping guidance and after-sales."""
    pack = load_pack(PACKS / lang)
    video = [s for s in pack.scenarios if s.channel == "video"]
    assert len(video) >= 6
    assert all(s.queue == "video.general" and s.video is not None for s in video)
    assert all({"L4/1.3.2"} & set(s.skills) for s in video)
    assert any("L4/1.3.1" in s.skills for s in video)
    decisions = [s.expected.id_decision for s in video if s.expected.id_decision]
    assert decisions.count("approved") >= 2 and decisions.count("refused") >= 2
    assert any(s.video.product for s in video) and any(s.video.fault for s in video)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_id_decisions_agree_with_the_crm(lang):
    """Approved exactly when the card's name and number are the CRM record's."""
    pack = load_pack(PACKS / lang)
    crm = {c.ref: c for c in pack.crm.customers}
    for s in pack.scenarios:
        if s.expected.id_decision:
            rec, card = crm[s.customer.crm_ref], s.video.id_card
            matches = (card.name, card.id_number) == (rec.name, rec.id_number)
            assert matches == (s.expected.id_decision == "approved"), s.id


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_video_scenario_renders_its_prop(lang):
    """scene_from_scenario turns each video section into the renderer's prop."""
    for s in load_pack(PACKS / lang).scenarios:
        if s.channel != "video":
            continue
        scene = scene_from_scenario(s, lang)
        want = IdCardProp if s.video.id_card else ProductProp if s.video.product else FaultProp
        assert isinstance(scene.prop, want) and scene.lang == lang


@pytest.fixture
def pack(tmp_path):
    dest = tmp_path / "en"
    shutil.copytree(PACKS / "en", dest)
    return dest


def _errors(path) -> list[str]:
    with pytest.raises(PackError) as exc:
        load_pack(path)
    return exc.value.errors


def test_a_wrong_decision_is_refused_with_file_and_field(pack):
    """Marking a mismatched card "approved" is a content error that names the file and expected.id_decision."""
    f = pack / "scenarios" / "video-refund-other-card.yaml"
    f.write_text(f.read_text().replace("id_decision: refused", "id_decision: approved"))
    errors = _errors(pack)
    assert any(
        "video-refund-other-card.yaml" in e and "expected.id_decision" in e and "does not match" in e for e in errors
    )


def test_two_props_and_a_decision_without_a_card_are_refused(pack):
    """A video section with two props, or an expected decision with no card shown, names the problem."""
    f = pack / "scenarios" / "video-cracked-kettle.yaml"
    text = f.read_text()
    f.write_text(text.replace("video:\n  fault:", "video:\n  product: {name: Box}\n  fault:"))
    assert any("one prop at most" in e for e in _errors(pack))
    f.write_text(text.replace("expected:\n", "expected:\n  id_decision: approved\n", 1))
    assert any("shows no id_card" in e for e in _errors(pack))


def test_video_section_only_on_video_scenarios(pack):
    """A chat scenario cannot carry a video section."""
    f = pack / "scenarios" / "delivery-status.yaml"
    f.write_text(f.read_text() + "video:\n  product: {name: Box}\n")
    assert any("only video scenarios" in e for e in _errors(pack))
