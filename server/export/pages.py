"""The download pages a link opens, in a browser (the patient's phone or computer): ask
the one-time code, give the archive once; an unknown, expired or used link gets a clear
page in French, then English. Not under /api/v1: these answer people, not programs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template_string, request

from server.api.runtime import runtime
from server.errors import AccessDenied
from server.export import handover

bp = Blueprint("export_pages", __name__)

# fr, en
MESSAGES = {
    "unknown": (
        "Ce lien de téléchargement n'est pas valable. Vérifiez l'adresse, ou demandez un "
        "nouvel export à la borne.",
        "This download link is not valid. Check the address, or ask for a new export at the kiosk.",
    ),
    "expired": (
        "Ce lien de téléchargement a expiré. Pour votre sécurité, un lien ne reste valable "
        "que 24 heures : demandez un nouvel export à la borne.",
        "This download link has expired. For your safety a link is valid for 24 hours "
        "only: ask for a new export at the kiosk.",
    ),
    "used": (
        "Ce lien de téléchargement a déjà servi : il ne fonctionne qu'une fois. Si ce "
        "n'était pas vous, signalez-le à l'accueil et consultez l'historique de votre dossier.",
        "This download link has already been used: it works only once. If it was not you, "
        "tell the reception desk and look at your record's access history.",
    ),
    "spent": (
        "Trop de codes incorrects : ce lien ne fonctionne plus. Demandez un nouvel export "
        "à la borne.",
        "Too many wrong codes: this link no longer works. Ask for a new export at the kiosk.",
    ),
    "refused": (
        "Cet export ne peut plus vous être remis. Renseignez-vous à l'accueil.",
        "This export can no longer be handed over to you. Ask at the reception desk.",
    ),
    "code_invalid": (
        "Ce code n'est pas le bon. Vérifiez le message reçu et réessayez.",
        "This code is not the right one. Check the message you received and try again.",
    ),
    "rate_limited": (
        "Trop de tentatives : patientez une minute avant de réessayer.",
        "Too many attempts: wait a minute before trying again.",
    ),
}
STATUS = {"unknown": 404, "expired": 410, "used": 410, "spent": 410, "refused": 403}

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Export de votre dossier médical</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.5}
.en{color:#555;font-size:.95em}
input,button{font-size:1.3rem;min-height:48px;padding:.3rem .8rem}
button{background:#000091;color:#fff;border:0;border-radius:4px;min-width:44px}
.error{color:#b00020}
</style></head><body>
<h1>Export de votre dossier médical partagé</h1>
<p class="en" lang="en">Export of your shared medical record</p>
{% if problem %}
<p class="error" role="alert" id="problem">{{ problem[0] }}</p>
<p class="en" lang="en">{{ problem[1] }}</p>
{% endif %}
{% if ask %}
<form method="post">
<p><label for="code">Saisissez le code à 8 chiffres reçu par message :</label><br>
<span class="en" lang="en">Type the 8-digit code you received:</span></p>
<p><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
maxlength="8" pattern="[0-9]{8}" required>
<button type="submit">Télécharger / Download</button></p>
{% if tries_left %}
<p>Essais restants : {{ tries_left }} / Tries left: {{ tries_left }}</p>
{% endif %}
<p>Le fichier ne pourra être téléchargé qu'une seule fois.
<span class="en" lang="en">The file can be downloaded only once.</span></p>
</form>
{% endif %}
</body></html>
"""
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _page(
    status: int, problem: str | None = None, *, ask: bool = False, tries_left: int = 0
) -> Response:
    html = render_template_string(
        PAGE, problem=MESSAGES[problem] if problem else None, ask=ask, tries_left=tries_left
    )
    return Response(html, status, headers=HEADERS, mimetype="text/html")


@bp.get("/export/<path:token>")
def ask_code(token: str) -> Any:
    rt = runtime()
    with rt.sessions() as session:
        try:
            handover.find(rt.ctx(session), token)
        except handover.LinkRefused as refused:
            return _page(STATUS[refused.why], refused.why)
    return _page(200, ask=True)


@bp.post("/export/<path:token>")
def give(token: str) -> Any:
    rt = runtime()
    code = request.form.get("code", "")[:20].strip()
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        verdict = rt.public_limits.check(f"address:{request.remote_addr or '?'}", ctx.now)
        if not verdict.allowed:
            return _page(429, "rate_limited")
        try:
            found = handover.download(ctx, token, code)
        except handover.LinkRefused as refused:
            session.commit()  # the wrong try counts, and its trace stays
            if refused.why == "code_invalid":
                return _page(400, "code_invalid", ask=True, tries_left=refused.tries_left)
            return _page(STATUS[refused.why], refused.why)
        except AccessDenied:
            return _page(403, "refused")  # traced and committed by the guard
        session.commit()
    headers = {
        **HEADERS,
        "Content-Disposition": f'attachment; filename="{found.filename}"',
    }
    return Response(found.body, 200, headers=headers, mimetype="application/zip")
