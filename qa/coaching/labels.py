"""The report's words in the rubric's language (Turkish or English; other languages get English)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Coaching report", "agent": "Agent", "team": "Team", "period": "Period", "rubric": "Rubric",
        "generated": "Generated", "summary": "Summary", "calls": "Calls", "avg_score": "Average score",
        "team_avg": "Team", "auto_failed": "Auto-fails", "reviewed": "Reviewed calls", "pass_rate": "Item pass rate",
        "trend": "Weekly score", "week": "Week of", "sections": "Sections", "section": "Section",
        "items_title": "Items", "item": "Item", "applicable": "Applicable", "passed": "Passed", "failed": "Failed",
        "weakest": "Weakest items", "moments": "Example moments", "call": "Call", "time": "At", "quote": "Quote",
        "profiles": "Customer profiles", "profile": "Profile", "talk": "Talk metrics", "metric": "Metric",
        "value": "Value", "comments": "Reviewer comments", "reviewer": "Reviewer", "outcome": "Outcome",
        "auto_outcome": "Automatic", "comment": "Comment", "plan": "Coaching plan", "agents": "Agents",
        "no_calls": "No scored calls in this period.", "no_team": "no team",
        "other_rubrics": "Calls scored with other rubrics are not in this report (one rubric per report):",
        "no_moment": "no quote (nothing matching was said)", "page": "Page", "of": "of", "none": "none",
        "pass": "pass", "fail": "fail", "na": "n/a",
        "talk_ratio_agent": "Agent talk ratio", "dead_air_total_s": "Dead air (s)",
        "interruptions_by_agent": "Interruptions by the agent", "agent_response_latency_mean_s": "Response latency (s)",
        "agent_wpm": "Speaking rate (words/min)", "you": "Agent", "chart_trend": "Score per week",
        "chart_items": "Pass rate per item (%)", "previous": "Previous period", "chart_dist": "Score distribution",
        "calls_axis": "calls", "chart_sections": "Section score per week", "section_weeks": "Sections per week",
        "chart_autofails": "Auto-fails per week (bars; line: % of calls)", "days_in": "days in",
        "queue": "Queue", "language": "Language", "strategy": "Recommended handling",
        "what_changed": "What changed", "this_period": "This period", "vs_team": "vs team",
        "reviewed_scores": "reviewed scores",
    },
    "tr": {
        "title": "Koçluk raporu", "agent": "Temsilci", "team": "Takım", "period": "Dönem", "rubric": "Form",
        "generated": "Oluşturulma", "summary": "Özet", "calls": "Çağrı", "avg_score": "Ortalama puan",
        "team_avg": "Takım", "auto_failed": "Otomatik başarısız", "reviewed": "İncelenen çağrı",
        "pass_rate": "Madde başarı oranı", "trend": "Haftalık puan", "week": "Hafta başı", "sections": "Bölümler",
        "section": "Bölüm", "items_title": "Maddeler", "item": "Madde", "applicable": "Uygulanan", "passed": "Başarılı",
        "failed": "Başarısız", "weakest": "En zayıf maddeler", "moments": "Örnek anlar", "call": "Çağrı",
        "time": "An", "quote": "Alıntı", "profiles": "Müşteri profilleri", "profile": "Profil",
        "talk": "Konuşma ölçümleri", "metric": "Ölçüm", "value": "Değer", "comments": "İnceleyici yorumları",
        "reviewer": "İnceleyici", "outcome": "Sonuç", "auto_outcome": "Otomatik", "comment": "Yorum",
        "plan": "Koçluk planı", "agents": "Temsilciler", "no_calls": "Bu dönemde puanlanmış çağrı yok.",
        "no_team": "takım yok",
        "other_rubrics": "Başka formlarla puanlanan çağrılar bu raporda yok (her rapor tek form):",
        "no_moment": "alıntı yok (uygun bir ifade söylenmedi)", "page": "Sayfa", "of": "/", "none": "yok",
        "pass": "başarılı", "fail": "başarısız", "na": "uygulanmaz",
        "talk_ratio_agent": "Temsilci konuşma oranı", "dead_air_total_s": "Sessizlik (sn)",
        "interruptions_by_agent": "Temsilcinin sözü kesmesi", "agent_response_latency_mean_s": "Yanıt gecikmesi (sn)",
        "agent_wpm": "Konuşma hızı (kelime/dk)", "you": "Temsilci", "chart_trend": "Haftalık puan",
        "chart_items": "Madde başarı oranı (%)", "previous": "Önceki dönem", "chart_dist": "Puan dağılımı",
        "calls_axis": "çağrı", "chart_sections": "Haftalık bölüm puanı", "section_weeks": "Haftalık bölümler",
        "chart_autofails": "Haftalık otomatik başarısız (çizgi: %)", "days_in": "günler",
        "queue": "Kuyruk", "language": "Dil", "strategy": "Önerilen yaklaşım",
        "what_changed": "Ne değişti", "this_period": "Bu dönem", "vs_team": "takıma göre",
        "reviewed_scores": "incelenmiş puanlar",
    },
}


def labels(language: str | None) -> dict[str, str]:
    return LABELS.get((language or "en")[:2].lower(), LABELS["en"])


def number(value: float | int | None, language: str | None, digits: int = 1) -> str:
    """One decimal, with the language's decimal mark (Turkish: comma); '–' for no value."""
    if value is None or value != value:
        return "–"
    text = f"{float(value):.{digits}f}"
    return text.replace(".", ",") if (language or "")[:2].lower() == "tr" else text


def signed(value: float | None, language: str | None, digits: int = 1) -> str:
    """A difference with its sign and the language's decimal mark ("+2,5"); '–' for no value."""
    if value is None or value != value:
        return "–"
    return ("+" if float(value) >= 0 else "-") + number(abs(float(value)), language, digits)


def versus_team(mine: float | None, team: float | None, language: str | None, digits: int = 1) -> str | None:
    """The difference to the team in the language's words and decimal mark ("+2,5 takıma göre"); None when
    either is missing."""
    if mine is None or team is None or mine != mine or team != team:
        return None
    return f"{signed(float(mine) - float(team), language, digits)} {labels(language)['vs_team']}"
