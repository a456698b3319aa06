"""The KPI section's words in the report's language (Turkish or English)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Contact-centre KPIs", "kpi": "KPI", "fcr": "First-contact resolution (%)",
        "first_contacts": "First contacts (resolved / not resolved / open)", "repeats": "Repeat contacts",
        "unknown": "Calls without a customer id", "pending": "Calls not yet counted (run callqa kpi refresh)",
        "aht": "Average handle time (s)", "talk": "Talk time (s, mean)", "hold": "Hold time (s, mean per call)",
        "after_call": "After-call gap (s, mean)", "hold_calls": "Calls with a hold (%)",
        "latency": "Agent response latency (s, mean)", "latency_max": "Longest response latency (s)",
        "long_wait": "Calls where the customer waited > {n} s unannounced (%)", "csat": "Survey score (1-5, mean)",
        "estimate": "Satisfaction estimate (1-5, mean)", "agreement": "Estimate vs survey",
        "no_survey": "no survey scores in this period: the estimate's agreement cannot be measured here",
        "agreement_text": "n = {n}, mean absolute error {mae}, Spearman {rho}, within one point {within} %",
        "method": "Estimate, not a survey", "period_note": "Days in", "as_of": "status as of",
        "fcr_note": "FCR = resolved / (resolved + not resolved) first contacts whose window has passed; "
                    "open windows are left out until they close.",
        "agents": "Agents", "agent": "Agent",
    },
    "tr": {
        "title": "Çağrı merkezi göstergeleri", "kpi": "Gösterge", "fcr": "İlk temasta çözüm (%)",
        "first_contacts": "İlk temaslar (çözülen / çözülmeyen / açık)", "repeats": "Tekrar eden temaslar",
        "unknown": "Müşteri numarası olmayan çağrılar",
        "pending": "Henüz sayılmayan çağrılar (callqa kpi refresh)",
        "aht": "Ortalama işlem süresi (sn)", "talk": "Konuşma süresi (sn, ortalama)",
        "hold": "Bekletme süresi (sn, çağrı başına)", "after_call": "Çağrı sonrası ara (sn, ortalama)",
        "hold_calls": "Bekletmeli çağrılar (%)", "latency": "Temsilci yanıt gecikmesi (sn, ortalama)",
        "latency_max": "En uzun yanıt gecikmesi (sn)",
        "long_wait": "Müşterinin habersiz {n} sn'den uzun beklediği çağrılar (%)",
        "csat": "Anket puanı (1-5, ortalama)", "estimate": "Memnuniyet tahmini (1-5, ortalama)",
        "agreement": "Tahmin ve anket", "no_survey": "bu dönemde anket puanı yok: tahminin uyumu burada ölçülemez",
        "agreement_text": "n = {n}, ortalama mutlak hata {mae}, Spearman {rho}, bir puan içinde %{within}",
        "method": "Tahmin, anket değil", "period_note": "Günler:", "as_of": "durum zamanı",
        "fcr_note": "İTÇ = süresi dolmuş ilk temaslarda çözülen / (çözülen + çözülmeyen); "
                    "süresi dolmamış temaslar dolana kadar sayılmaz.",
        "agents": "Temsilciler", "agent": "Temsilci",
    },
}


def kpi_labels(language: str | None) -> dict[str, str]:
    return LABELS.get((language or "en")[:2].lower(), LABELS["en"])
