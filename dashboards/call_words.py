"""The call page's words in the rubric's language, and plain reasons built from an item's check.

Starts from the coaching report's labels (`qa.coaching.labels`: pass / fail / agent / coaching ...)
and adds what the scoring page says. An item's stored `reason` is an engineering sentence in English
("'{company}' not said by the agent in the first 30 s"); `plain_reason` says the same in plain words
in the rubric's language from the item's check (who, which window, forbidden or expected) and its
outcome. The stored reason stays available in the page's details. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards.fmt import is_missing, mmss
from qa.coaching.labels import labels

PAGE: dict[str, dict[str, str]] = {
    "en": {
        "score": "Score", "band_exceeds": "Exceeds", "band_meets": "Meets", "band_needs_coaching": "Needs coaching",
        "auto_fail": "AUTO-FAIL", "auto_fail_because": "a critical item failed", "scorecard": "Scorecard",
        "transcript": "Transcript", "customer": "Customer", "unknown": "Unknown speaker", "why": "Why",
        "coaching_tip": "Coaching", "critical": "critical", "reviewed_by": "reviewed by", "after_review": "after review",
        "automatic": "automatic", "details": "Details (for engineers)", "play_window": "Play the window",
        "play": "Play", "next": "Next call", "previous": "Previous call", "back": "Back to the list",
        "follow": "Follow the playing line", "roles_uncertain": "Roles uncertain: agent and customer may be swapped "
        "(the items scored on them too). Check the transcript against the audio.",
        "duration": "Duration", "direction": "Direction", "queue": "Queue", "started": "Started",
        "inbound": "inbound", "outbound": "outbound", "conversation": "How the conversation went",
        "no_score": "This call has no score (no rubric matched its language).",
        "lifted": "The AI auto-failed this call; a review lifted it", "items_failed": "items failed",
        "unscored": "Not scored", "review_item": "Review this item", "outcome": "Outcome",
        "reason_required": "Reason (required for a critical item)", "reason_optional": "Reason (optional)",
        "save": "Save review", "signed_as": "Signed as", "saved": "Saved", "not_saved": "Review not saved",
        "dispute_item": "Dispute this item", "dispute_comment": "Why the result is wrong", "send_dispute": "Send dispute",
        "in_queue": "In your queue", "of": "of", "nothing_said": "nothing said",
        "sign_off": "Sign off the call", "verdict": "The AI's scoring", "verdict_agree": "Reviewed: I agree with the AI",
        "verdict_disagree": "Reviewed: I disagree with the AI", "call_comment": "Comment on the call",
        "sign_off_button": "Sign off", "signed_off": "Signed off", "dispute_sent": "Dispute sent to your team lead", "dispute_not_sent": "Dispute not sent",
        "dispute_accepted": "Dispute accepted: the item's result changed", "dispute_rejected": "Dispute rejected",
        "disputes": "Disputes", "dispute_open": "open", "decision_comment": "Your decision, in a sentence",
        "accept": "Accept", "reject": "Reject", "history": "History", "evidence": "Play",
        "recording_note": "Personal data toned out. Click any line or ▶ button to play from there.",
        "original_note": "Original recording (unmasked, audited).", "unmask": "Original audio (unmasked, audited)",
        "no_speech": "No speech was transcribed in this call.", "processing_failed": "Processing failed",
        "scored_with": "Scored with", "engine_reason": "Stored reason", "method": "Method", "open_call": "Open call", "negative_mood": "negative",
        "unscored_note": "The call is kept out of every average.", "audio_quality": "Audio quality",
        "degraded": "the transcript may be degraded.",
    },
    "tr": {
        "score": "Puan", "band_exceeds": "Beklentinin üstünde", "band_meets": "Beklentiyi karşılıyor",
        "band_needs_coaching": "Koçluk gerekli", "auto_fail": "OTOMATİK BAŞARISIZ",
        "auto_fail_because": "kritik bir madde başarısız", "scorecard": "Değerlendirme",
        "transcript": "Konuşma dökümü", "customer": "Müşteri", "unknown": "Bilinmeyen konuşmacı", "why": "Neden",
        "coaching_tip": "Koçluk", "critical": "kritik", "reviewed_by": "inceleyen", "after_review": "inceleme sonrası",
        "automatic": "otomatik", "details": "Ayrıntılar (teknik)", "play_window": "Aralığı dinle", "play": "Dinle",
        "next": "Sonraki çağrı", "previous": "Önceki çağrı", "back": "Listeye dön",
        "follow": "Çalan satırı takip et", "roles_uncertain": "Roller belirsiz: temsilci ve müşteri yer değiştirmiş "
        "olabilir (onlara göre puanlanan maddeler de). Dökümü sesle karşılaştırın.",
        "duration": "Süre", "direction": "Yön", "queue": "Kuyruk", "started": "Başlangıç",
        "inbound": "gelen", "outbound": "giden", "conversation": "Görüşme nasıl geçti",
        "no_score": "Bu çağrının puanı yok (dilinde bir form bulunamadı).",
        "lifted": "Yapay zekâ bu çağrıyı otomatik başarısız saydı; bir inceleme bunu kaldırdı",
        "items_failed": "madde başarısız", "unscored": "Puanlanmadı", "review_item": "Bu maddeyi incele",
        "outcome": "Sonuç", "reason_required": "Gerekçe (kritik maddede zorunlu)",
        "reason_optional": "Gerekçe (isteğe bağlı)", "save": "İncelemeyi kaydet", "signed_as": "İmza",
        "saved": "Kaydedildi", "not_saved": "İnceleme kaydedilmedi", "dispute_item": "Bu maddeye itiraz et",
        "dispute_comment": "Sonuç neden yanlış", "send_dispute": "İtirazı gönder", "in_queue": "Kuyruğunuzda",
        "of": "/", "nothing_said": "hiçbir şey söylenmedi",
        "sign_off": "Çağrıyı onayla", "verdict": "Yapay zekânın puanlaması",
        "verdict_agree": "İncelendi: yapay zekâ ile aynı fikirdeyim",
        "verdict_disagree": "İncelendi: yapay zekâ ile aynı fikirde değilim", "call_comment": "Çağrı hakkında yorum",
        "sign_off_button": "Onayla", "signed_off": "Onaylandı", "dispute_sent": "İtiraz takım liderinize gönderildi",
        "dispute_not_sent": "İtiraz gönderilmedi",
        "dispute_accepted": "İtiraz kabul edildi: maddenin sonucu değişti", "dispute_rejected": "İtiraz reddedildi",
        "disputes": "İtirazlar", "dispute_open": "açık",
        "decision_comment": "Kararınız, bir cümleyle", "accept": "Kabul et", "reject": "Reddet", "history": "Geçmiş",
        "evidence": "Dinle", "recording_note": "Kişisel veriler tonla örtüldü. Dinlemek için bir satıra ya da ▶ düğmesine tıklayın.",
        "original_note": "Orijinal kayıt (maskesiz, denetlenir).", "unmask": "Orijinal ses (maskesiz, denetlenir)",
        "no_speech": "Bu çağrıda konuşma yazıya dökülmedi.", "processing_failed": "İşleme başarısız",
        "scored_with": "Puanlayan form", "engine_reason": "Kayıtlı gerekçe", "method": "Yöntem", "open_call": "Çağrıyı aç", "negative_mood": "olumsuz",
        "unscored_note": "Çağrı hiçbir ortalamaya katılmaz.", "audio_quality": "Ses kalitesi",
        "degraded": "döküm bozuk olabilir.",
    },
}

# (who, window) phrases for plain reasons; {n} is the window's seconds.
_WHO = {"en": {"agent": "the agent", "customer": "the customer", "any": "anyone"},
        "tr": {"agent": "Temsilci", "customer": "Müşteri", "any": "Kimse"}}
_WHERE = {
    "en": {"first": "in the first {n} s", "last": "in the last {n} s", "whole": "during the call",
           "before": "in the {n} s before a hold", "after": "in the {n} s after a hold"},
    "tr": {"first": "ilk {n} saniyede", "last": "son {n} saniyede", "whole": "çağrı boyunca",
           "before": "beklemeden önceki {n} saniyede", "after": "beklemeden sonraki {n} saniyede"},
}
_PLAIN = {
    "en": {"missing": "Not said by {who} {where}.", "forbidden_said": "Something not allowed was said at {t}.",
           "said": "Said at {t}.", "clean": "Nothing that is not allowed was said.",
           "metric_fail": "Outside the target: {reason}.", "metric_pass": "Within the target.",
           "mood_fail": "The customer's mood did not meet the target.", "mood_pass": "The customer's mood met the target.",
           "na": "Does not apply to this call.", "passed": "Done."},
    "tr": {"missing": "{who} {where} söylemedi.", "forbidden_said": "{t} anında izin verilmeyen bir ifade söylendi.",
           "said": "{t} anında söylendi.", "clean": "İzin verilmeyen bir ifade söylenmedi.",
           "metric_fail": "Hedefin dışında: {reason}.", "metric_pass": "Hedef aralığında.",
           "mood_fail": "Müşterinin duygu durumu hedefi tutturmadı.", "mood_pass": "Müşterinin duygu durumu hedefte.",
           "na": "Bu çağrıda uygulanmaz.", "passed": "Yapıldı."},
}
TEXT_CHECKS = ("phrases", "regex", "fuzzy", "semantic")


def lang_of(language: str | None) -> str:
    return "tr" if (language or "")[:2].lower() == "tr" else "en"


def words(language: str | None) -> dict[str, str]:
    """Every label of the call page in the rubric's language (report labels + page labels)."""
    lang = lang_of(language)
    return {**labels(lang), **PAGE[lang]}


def band_text(band: str | None, language: str | None) -> str:
    if is_missing(band) or not band:
        return "–"
    return words(language).get(f"band_{band}", str(band).replace("_", " ").capitalize())


def outcome_text(outcome: str | None, language: str | None) -> str:
    if is_missing(outcome):
        return "–"
    return words(language).get(str(outcome), str(outcome))


@dataclass(frozen=True)
class Window:
    """Where an item looked, as seconds of the call (for "play the window")."""

    start_s: float
    end_s: float


def item_window(check: Any, duration_s: float | None) -> Window | None:
    """The first/last-N-seconds window a text check looked in (None: whole call or around events)."""
    window = getattr(check, "window", None)
    if window is None:
        for sub in getattr(check, "checks", None) or []:
            found = item_window(sub, duration_s)
            if found:
                return found
        return None
    if window.first_s:
        end = float(window.first_s) if is_missing(duration_s) else min(float(window.first_s), float(duration_s))
        return Window(0.0, end)
    if window.last_s and not is_missing(duration_s):
        return Window(max(0.0, float(duration_s) - float(window.last_s)), float(duration_s))
    return None


def _where(check: Any, lang: str) -> str:
    window = getattr(check, "window", None)
    w = _WHERE[lang]
    if window is None:
        return w["whole"]
    if window.first_s:
        return w["first"].format(n=f"{window.first_s:g}")
    if window.last_s:
        return w["last"].format(n=f"{window.last_s:g}")
    if window.before_s:
        return w["before"].format(n=f"{window.before_s:g}")
    if window.after_s:
        return w["after"].format(n=f"{window.after_s:g}")
    return w["whole"]


def _forbidding(check: Any) -> bool:
    return bool(getattr(check, "none", None)) and not getattr(check, "any", None)


def plain_reason(check: Any, outcome: str | None, evidence_start_s: float | None, reason: str | None,
                 language: str | None) -> str:
    """What happened with one item, in plain words in the rubric's language."""
    lang = lang_of(language)
    p = _PLAIN[lang]
    if outcome == "na":
        return p["na"]
    kind = getattr(check, "type", None)
    if kind in ("all_of", "any_of"):
        subs = [c for c in (getattr(check, "checks", None) or []) if getattr(c, "type", None) in TEXT_CHECKS]
        check, kind = (subs[0], subs[0].type) if subs else (check, kind)
    has_time = not is_missing(evidence_start_s)
    if kind in TEXT_CHECKS:
        speaker = getattr(check, "speaker", "agent") or "agent"
        if _forbidding(check):
            return p["forbidden_said"].format(t=mmss(evidence_start_s)) if outcome == "fail" and has_time else (
                p["clean"] if outcome == "pass" else p["missing"].format(who=_WHO[lang][speaker], where=_where(check, lang)))
        if outcome == "pass":
            return p["said"].format(t=mmss(evidence_start_s)) if has_time else p["passed"]
        return p["missing"].format(who=_WHO[lang][speaker], where=_where(check, lang))
    if kind == "sentiment":
        return p["mood_pass"] if outcome == "pass" else p["mood_fail"]
    if kind == "metric":
        return p["metric_pass"] if outcome == "pass" else p["metric_fail"].format(reason=_metric_words(reason, lang))
    return p["passed"] if outcome == "pass" else (reason or "")


def _metric_words(reason: str | None, lang: str) -> str:
    """`interruptions_by_agent = 3, should be at most 0` with the metric's name in words."""
    text = reason or ""
    names = labels(lang)
    for key in ("talk_ratio_agent", "dead_air_total_s", "interruptions_by_agent", "agent_response_latency_mean_s",
                "agent_wpm"):
        text = text.replace(key, names.get(key, key))
    if lang == "tr":
        text = text.replace("should be at most", "en çok").replace("should be at least", "en az").replace(
            "should be between", "olması gereken").replace(" and ", " ile ")
    return text
