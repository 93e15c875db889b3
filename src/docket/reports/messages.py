"""The fixed texts of the provider's report page, per language, and which language a page uses.

Only the page's own words are translated here (titles, column headers, "expected", "found"...).
What a check wrote (its name, expected, found, suggestion) stays as the check wrote it: those
texts come from the checks and the report carries one language of them, so translating them
here would make the page and the JSON report disagree.

Every language has the same keys (``tests/test_report_html.py`` holds this), so a page never
mixes languages because one entry was forgotten. Texts with ``{name}`` slots are filled with
:meth:`str.format`; the page escapes the result, so values from the data stay text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from docket.errors import BadInput

#: The languages the page is written in, in the order a fallback tries them.
LANGUAGES = ("en", "fr", "de")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "Quality report: {subject}",
        "intro": "This page lists what the quality checks found in the files and metadata of "
                 "your submission: for every problem, what was expected, what was found, where, "
                 "and what to do.",
        "verdict_valid": "No errors were found. Warnings and notes, if any, are listed below; "
                         "they do not stop publication.",
        "verdict_errors": "Errors were found: the data need to be corrected before they can be "
                          "published.",
        "request": "Request",
        "revision": "Revision",
        "title": "Title",
        "provider": "Provider",
        "checked_on": "Checked on",
        "summary": "Summary",
        "summary_caption": "Results per file",
        "file": "File",
        "result": "Result",
        "rows": "Rows",
        "passed": "Checks passed",
        "warnings": "Warnings",
        "errors": "Errors",
        "not_checked": "Not checked",
        "total": "Total",
        "request_row": "The request (metadata)",
        "file_not_checked": "not checked: {reason}",
        "problems": "What to fix",
        "problems_intro": "Errors first, then warnings and notes. Rows are counted from 1 after "
                          "the header; the header is row 0.",
        "no_problems": "Every check that ran passed.",
        "check": "Check",
        "expected": "Expected",
        "found": "Found",
        "count": "Occurrences",
        "suggestion": "Suggestion",
        "where": "Where it failed",
        "row": "Row",
        "column": "Column",
        "value": "Value",
        "note": "Note",
        "header_row": "header",
        "line_n": "line {n} of the file",
        "empty_value": "(empty)",
        "no_value": "(none)",
        "more": "{n} more not listed here.",
        "figures": "Figures",
        "per_column_title": "Problems per column",
        "per_column_caption": "Errors and warnings found in each column (all occurrences, not "
                              "only the listed ones).",
        "per_column_axis": "number of problems",
        "whole_file": "(whole file)",
        "blank_name": "(blank name)",
        "values_title": "Failing values of numeric columns",
        "values_caption": "Each dot is a failing value listed in this report (at most the "
                          "listed sample of each check).",
        "band_caption": "The green band is the range the schema allows.",
        "allowed": "allowed range",
        "skipped": "Not checked",
        "skipped_intro": "These checks did not run; the reason is given for each.",
        "notes": "Notes",
        "generated": "Report format {version}, made by {generator} on {created}.",
        "status_valid": "Valid",
        "status_info": "Note",
        "status_warn": "Warning",
        "status_error": "Error",
        "status_not-checked": "Not checked",
    },
    "fr": {
        "page_title": "Rapport de qualité : {subject}",
        "intro": "Cette page présente ce que les contrôles de qualité ont trouvé dans les "
                 "fichiers et les métadonnées de votre envoi : pour chaque problème, ce qui était "
                 "attendu, ce qui a été trouvé, où, et ce qu'il faut faire.",
        "verdict_valid": "Aucune erreur n'a été trouvée. Les avertissements et remarques "
                         "éventuels sont listés ci-dessous ; ils n'empêchent pas la publication.",
        "verdict_errors": "Des erreurs ont été trouvées : les données doivent être corrigées "
                          "avant de pouvoir être publiées.",
        "request": "Demande",
        "revision": "Révision",
        "title": "Titre",
        "provider": "Fournisseur",
        "checked_on": "Contrôlé le",
        "summary": "Résumé",
        "summary_caption": "Résultats par fichier",
        "file": "Fichier",
        "result": "Résultat",
        "rows": "Lignes",
        "passed": "Contrôles réussis",
        "warnings": "Avertissements",
        "errors": "Erreurs",
        "not_checked": "Non vérifiés",
        "total": "Total",
        "request_row": "La demande (métadonnées)",
        "file_not_checked": "non vérifié : {reason}",
        "problems": "Ce qu'il faut corriger",
        "problems_intro": "Les erreurs d'abord, puis les avertissements et les remarques. Les "
                          "lignes sont comptées à partir de 1 après l'en-tête ; l'en-tête est la "
                          "ligne 0.",
        "no_problems": "Tous les contrôles effectués ont réussi.",
        "check": "Contrôle",
        "expected": "Attendu",
        "found": "Trouvé",
        "count": "Occurrences",
        "suggestion": "Suggestion",
        "where": "Emplacements",
        "row": "Ligne",
        "column": "Colonne",
        "value": "Valeur",
        "note": "Précision",
        "header_row": "en-tête",
        "line_n": "ligne {n} du fichier",
        "empty_value": "(vide)",
        "no_value": "(aucune)",
        "more": "{n} autres non listés ici.",
        "figures": "Figures",
        "per_column_title": "Problèmes par colonne",
        "per_column_caption": "Erreurs et avertissements trouvés dans chaque colonne (toutes "
                              "les occurrences, pas seulement celles listées).",
        "per_column_axis": "nombre de problèmes",
        "whole_file": "(fichier entier)",
        "blank_name": "(nom vide)",
        "values_title": "Valeurs en défaut des colonnes numériques",
        "values_caption": "Chaque point est une valeur en défaut listée dans ce rapport (au plus "
                          "l'échantillon listé de chaque contrôle).",
        "band_caption": "La bande verte est la plage que le schéma autorise.",
        "allowed": "plage autorisée",
        "skipped": "Non vérifié",
        "skipped_intro": "Ces contrôles n'ont pas été effectués ; la raison est donnée pour "
                         "chacun.",
        "notes": "Remarques",
        "generated": "Format de rapport {version}, produit par {generator} le {created}.",
        "status_valid": "Valide",
        "status_info": "Remarque",
        "status_warn": "Avertissement",
        "status_error": "Erreur",
        "status_not-checked": "Non vérifié",
    },
    "de": {
        "page_title": "Qualitätsbericht: {subject}",
        "intro": "Diese Seite zeigt, was die Qualitätsprüfungen in den Dateien und Metadaten "
                 "Ihrer Einreichung gefunden haben: für jedes Problem, was erwartet wurde, was "
                 "gefunden wurde, wo, und was zu tun ist.",
        "verdict_valid": "Es wurden keine Fehler gefunden. Etwaige Warnungen und Hinweise stehen "
                         "unten; sie verhindern die Veröffentlichung nicht.",
        "verdict_errors": "Es wurden Fehler gefunden: die Daten müssen korrigiert werden, bevor "
                          "sie veröffentlicht werden können.",
        "request": "Antrag",
        "revision": "Revision",
        "title": "Titel",
        "provider": "Datenlieferant",
        "checked_on": "Geprüft am",
        "summary": "Zusammenfassung",
        "summary_caption": "Ergebnisse je Datei",
        "file": "Datei",
        "result": "Ergebnis",
        "rows": "Zeilen",
        "passed": "Bestandene Prüfungen",
        "warnings": "Warnungen",
        "errors": "Fehler",
        "not_checked": "Nicht geprüft",
        "total": "Gesamt",
        "request_row": "Der Antrag (Metadaten)",
        "file_not_checked": "nicht geprüft: {reason}",
        "problems": "Was zu korrigieren ist",
        "problems_intro": "Zuerst die Fehler, dann Warnungen und Hinweise. Zeilen werden ab 1 "
                          "nach der Kopfzeile gezählt; die Kopfzeile ist Zeile 0.",
        "no_problems": "Alle durchgeführten Prüfungen waren erfolgreich.",
        "check": "Prüfung",
        "expected": "Erwartet",
        "found": "Gefunden",
        "count": "Vorkommen",
        "suggestion": "Vorschlag",
        "where": "Fundstellen",
        "row": "Zeile",
        "column": "Spalte",
        "value": "Wert",
        "note": "Anmerkung",
        "header_row": "Kopfzeile",
        "line_n": "Textzeile {n} der Datei",
        "empty_value": "(leer)",
        "no_value": "(keiner)",
        "more": "{n} weitere hier nicht aufgeführt.",
        "figures": "Abbildungen",
        "per_column_title": "Probleme je Spalte",
        "per_column_caption": "Fehler und Warnungen in jeder Spalte (alle Vorkommen, nicht nur "
                              "die aufgeführten).",
        "per_column_axis": "Anzahl der Probleme",
        "whole_file": "(ganze Datei)",
        "blank_name": "(leerer Name)",
        "values_title": "Fehlerhafte Werte numerischer Spalten",
        "values_caption": "Jeder Punkt ist ein in diesem Bericht aufgeführter fehlerhafter Wert "
                          "(höchstens die aufgeführte Stichprobe jeder Prüfung).",
        "band_caption": "Das grüne Band ist der vom Schema erlaubte Bereich.",
        "allowed": "zulässiger Bereich",
        "skipped": "Nicht geprüft",
        "skipped_intro": "Diese Prüfungen wurden nicht durchgeführt; der Grund steht jeweils "
                         "dabei.",
        "notes": "Hinweise",
        "generated": "Berichtsformat {version}, erstellt von {generator} am {created}.",
        "status_valid": "Gültig",
        "status_info": "Hinweis",
        "status_warn": "Warnung",
        "status_error": "Fehler",
        "status_not-checked": "Nicht geprüft",
    },
}


def supported(language: str) -> str:
    """``language`` as a catalogue language (``fr-CH`` and ``FR`` are ``fr``), or refused.

    Refused as bad input (exit 2), listing what exists, so a typo in ``--lang`` never silently
    gives an English page.
    """
    code = str(language).strip().lower().replace("_", "-").split("-")[0]
    if code not in MESSAGES:
        raise BadInput(f"no report page in language {language!r} (there are: {', '.join(LANGUAGES)})")
    return code


def messages(language: str) -> Mapping[str, str]:
    """The fixed texts of a page in ``language``."""
    return MESSAGES[supported(language)]


def _text_languages(request: Mapping[str, Any]) -> set[str]:
    """The languages the provider wrote the request's catalogue texts in (title, abstract)."""
    metadata = request.get("metadata") or {}
    descriptive = metadata.get("project_descriptive") or {} if isinstance(metadata, Mapping) else {}
    found: set[str] = set()
    for key in ("title", "abstract"):
        text = descriptive.get(key) if isinstance(descriptive, Mapping) else None
        if isinstance(text, Mapping):
            found |= {str(k).lower().split("-")[0] for k, v in text.items() if isinstance(v, str) and v.strip()}
    return found


def choose_language(request: Mapping[str, Any] | None, configured: Iterable[str] = ()) -> str:
    """The language of a provider's page: the provider's, as far as docket can tell.

    A request has no "language" field; what says which languages a provider reads is the
    request's own multilingual texts (a title given as ``{"fr": ..., "de": ...}``). So: the first
    of the instance's configured languages (``[instance] languages``, its order of preference)
    that the request's title or abstract is written in and that the page exists in; when the
    texts are plain strings (no language said), the instance's first configured language the
    page exists in; else English. Key order in the request is not used: a PostgreSQL store does
    not keep it.
    """
    order = [c.lower().split("-")[0] for c in configured] + list(LANGUAGES)
    order = [c for c in dict.fromkeys(order) if c in MESSAGES]
    written = _text_languages(request) if request else set()
    if written:
        for code in order:
            if code in written:
                return code
    return order[0] if order else "en"
