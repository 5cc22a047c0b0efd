"""English translations of the kiosk's French texts, for `kiosk.i18n`.

Keys are the French texts exactly as passed to `_()` in kiosk/templates and kiosk/**/*.py
(plus the `FLASH` messages and the `DEPOSIT_KINDS` labels), sorted; values keep the same
`{placeholders}`. tests/kiosk/test_i18n.py keeps this complete: it fails on a missing, stale
or untranslated entry and on mismatched placeholders.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "(ne peut pas être bloqué ; il voit tout le dossier)": (
        "(cannot be blocked; sees the whole record)"
    ),
    "Accès accordés en consultation": "Access granted during consultations",
    "Accès au dossier": "Access to the record",
    "Accès en régulation (centre 15)": "Dispatch access: centre 15 (SAMU)",
    "Accès en urgence": "Emergency access",
    "Accès en urgence (bris de glace)": "Emergency access (break the glass)",
    "Accès en urgence (bris de glace) en cours. Motif : {reason}. Le patient en est informé.": (
        "Emergency access (break the glass) in progress. Reason: {reason}. The patient is informed."
    ),
    "Admission enregistrée : l'équipe de l'établissement rejoint l'équipe de soins.": (
        "Admission recorded: the facility's team joins the care team."
    ),
    "Afficher tout": "Show all",
    "Aller au contenu": "Skip to content",
    "Annuler": "Cancel",
    "Application d'authentification": "Authenticator app",
    "Aucun": "None",
    "Aucun accès enregistré.": "No access recorded.",
    "Aucun document à afficher.": "No documents to show.",
    "Bienvenue": "Welcome",
    "Bloquer": "Block",
    (
        "Bloquer {name} ? Il ne pourra plus accéder à votre dossier, même au sein de votre équipe "
        "de soins."
    ): (
        "Block {name}? They will no longer be able to access your record, even as part of your "
        "care team."
    ),
    "Bonjour {name}": "Hello {name}",
    "Carte bloquée": "Card blocked",
    "Carte débloquée. Entrez votre nouveau code PIN.": "Card unblocked. Enter your new PIN.",
    "Carte retirée : la session est terminée et l'écran a été effacé.": (
        "Card removed: the session has ended and the screen has been cleared."
    ),
    "Carte à insérer": "Card to insert",
    "Ce document ne peut pas être affiché sur la borne.": (
        "This document cannot be displayed on the kiosk."
    ),
    "Ce formulaire a expiré. Revenez à l'accueil et recommencez, rien n'a été enregistré.": (
        "This form has expired. Go back to the home screen and start again; nothing has been saved."
    ),
    "Ce patient n'a pas encore de dossier.": "This patient does not have a record yet.",
    (
        "Cet accès est exceptionnel. Il est tracé, limité dans le temps, et le patient en est "
        "informé."
    ): "This access is exceptional. It is logged, limited in time, and the patient is informed.",
    "Cette action n'est pas possible ici.": "This action is not possible here.",
    "Cette carte n'est pas reconnue par la borne.": "This card is not recognised by the kiosk.",
    (
        "Cette carte ne permet pas d'ouvrir une session. Reprenez-la ; si vous pensez que c'est "
        "une erreur, adressez-vous à l'accueil."
    ): (
        "This card cannot be used to start a session. Please take it back; if you think this "
        "is a mistake, ask at reception."
    ),
    "Cette page n'existe pas.": "This page does not exist.",
    "Choisissez le type de document.": "Choose the document type.",
    "Choisissez une action.": "Choose an action.",
    "Code (6 chiffres)": "Code (6 digits)",
    "Code PIN (4 chiffres)": "PIN (4 digits)",
    "Code PIN de votre carte professionnelle": "Your professional card's PIN",
    "Code PIN des cartes de démonstration : 1234 ; code de déblocage : 12345678.": (
        "Demo cards' PIN: 1234; unblocking code: 12345678."
    ),
    "Code PIN incorrect. Il reste {n} essai(s) avant le blocage de la carte.": (
        "Incorrect PIN. {n} attempt(s) left before the card is blocked."
    ),
    "Code de déblocage (8 chiffres)": "Unblocking code (8 digits)",
    "Code de déblocage incorrect. Il reste {n} essai(s).": (
        "Incorrect unblocking code. {n} attempt(s) left."
    ),
    "Code envoyé à {dest}. Il est valable quelques minutes.": (
        "Code sent to {dest}. It is valid for a few minutes."
    ),
    "Code refusé : vérifiez l'heure de votre téléphone et réessayez.": (
        "Code rejected: check your phone's clock and try again."
    ),
    "Code refusé. Vérifiez-le ou demandez-en un nouveau.": (
        "Code rejected. Check it or request a new one."
    ),
    "Compte rendu d'hospitalisation": "Hospital discharge report",
    "Compte rendu de consultation": "Consultation report",
    "Compte rendu des urgences": "Emergency department report",
    "Confirmer": "Confirm",
    "Confirmer l'accès en urgence": "Confirm emergency access",
    (
        "Connexion refusée par le serveur. Retirez votre carte et réessayez ; si cela persiste, "
        "contactez le support."
    ): (
        "Connection refused by the server. Remove your card and try again; if this persists, "
        "contact support."
    ),
    "Consentement": "Consent",
    "Contenu": "Content",
    "Continuer": "Continue",
    "Continuer vers le dossier": "Continue to the record",
    "D'où vient votre code ?": "Where does your code come from?",
    "Dispensation de médicaments": "Dispensing of medicines",
    "Document enregistré dans le dossier.": "Document saved in the record.",
    "Donnez un titre (200 caractères au plus).": "Enter a title (200 characters at most).",
    "Dossier de {name}": "Record of {name}",
    "Dossier médical partagé": "Shared medical record",
    "Dossier ouvert": "Record opened",
    "Débloquer": "Unblock",
    "Débloquer la carte": "Unblock the card",
    "Débloquer {name} ?": "Unblock {name}?",
    "Démo : lecteurs et cartes": "Demo: readers and cards",
    "Déposer un document": "Add a document",
    "E-mail": "Email",
    "Enregistrer": "Save",
    "Enregistrer l'admission": "Record the admission",
    "Enregistrer mes choix": "Save my choices",
    "Essais restants : {n}.": "Attempts left: {n}.",
    "Fermer mon dossier": "Close my record",
    "Historique des accès": "Access history",
    "Identifiant RPPS du médecin traitant": "Attending doctor's RPPS number",
    "Impossible de continuer": "Unable to continue",
    "Imprimer le reçu (PDF)": "Print the receipt (PDF)",
    "Indiquez le contact qui recevra les notifications.": (
        "Enter the contact details that will receive the notifications."
    ),
    "Indiquez le motif de l'accès en urgence (10 à 500 caractères).": (
        "Enter the reason for the emergency access (10 to 500 characters)."
    ),
    "Insérer": "Insert",
    "Insérez la carte Vitale du patient, en sa présence.": (
        "Insert the patient's Carte Vitale, in their presence."
    ),
    "Insérez votre carte Vitale ou votre carte professionnelle.": (
        "Insert your Carte Vitale (health insurance card) or your professional card."
    ),
    "Je consens à l'ouverture de mon dossier médical partagé.": (
        "I consent to the opening of my shared medical record."
    ),
    "Je demande aussi la suppression de mon dossier (effective sous 3 mois).": (
        "I also request the deletion of my record (effective within 3 months)."
    ),
    "L'adresse e-mail n'est pas valide.": "The email address is not valid.",
    "L'identifiant du médecin traitant n'est pas valide.": (
        "The attending doctor's identifier is not valid."
    ),
    "La borne a perdu le contact avec ses lecteurs de carte ; reconnexion…": (
        "The kiosk has lost contact with its card readers; reconnecting…"
    ),
    "La carte du patient a été retirée : son dossier n'est plus affiché.": (
        "The patient's card has been removed: their record is no longer displayed."
    ),
    "La demande n'a pas pu être traitée.": "The request could not be processed.",
    "Le bureau des admissions ne lit aucun contenu médical.": (
        "The admissions office does not read any medical content."
    ),
    "Le code PIN a 4 chiffres.": "The PIN has 4 digits.",
    "Le code a 6 chiffres.": "The code has 6 digits.",
    "Le code de déblocage (PUK) a 8 chiffres.": "The unblocking code (PUK) has 8 digits.",
    "Le code de déblocage est lui aussi bloqué : la carte doit être remplacée.": (
        "The unblocking code is blocked too: the card must be replaced."
    ),
    "Le code est vérifié par votre carte ; il ne quitte jamais la borne.": (
        "The code is checked by your card; it never leaves the kiosk."
    ),
    "Le contenu est vide ou trop long (20 000 caractères au plus).": (
        "The content is empty or too long (20,000 characters at most)."
    ),
    "Le document envoyé est trop volumineux.": "The document sent is too large.",
    "Le dossier médical partagé du patient est ouvert.": (
        "The patient's shared medical record is open."
    ),
    (
        "Le dossier ne peut être ouvert qu'avec le consentement explicite du patient : cochez la "
        "case si le patient est d'accord."
    ): (
        "The record can only be opened with the patient's explicit consent: tick the box if "
        "the patient agrees."
    ),
    "Le médecin régulateur du SAMU (centre 15) peut lire le dossier.": (
        "The SAMU dispatch doctor (centre 15) can read the record."
    ),
    "Le nouveau code PIN doit avoir 4 chiffres.": "The new PIN must have 4 digits.",
    "Le numéro de téléphone n'est pas valide (ex. 06 12 34 56 78).": (
        "The phone number is not valid (e.g. 06 12 34 56 78)."
    ),
    "Le patient consent à l'ouverture de son dossier médical partagé.": (
        "The patient consents to the opening of their shared medical record."
    ),
    (
        "Le serveur du dossier médical est injoignable pour le moment. Rien n'a été perdu : "
        "réessayez dans un instant."
    ): (
        "The medical record server cannot be reached at the moment. Nothing has been lost: try "
        "again in a moment."
    ),
    "Les deux saisies du nouveau code PIN sont différentes.": (
        "The two entries of the new PIN do not match."
    ),
    "Les documents des deux dernières années.": "Documents from the last two years.",
    "Les lecteurs de carte sont indisponibles. La borne se reconnecte…": (
        "The card readers are unavailable. The kiosk is reconnecting…"
    ),
    "Masquer aux professionnels": "Hide from professionals",
    (
        "Masquer « {title} » aux professionnels ? Votre médecin traitant et l'auteur du document "
        "le verront toujours."
    ): (
        "Hide “{title}” from professionals? Your attending doctor and the document's author "
        "will still see it."
    ),
    "Masqué aux autres professionnels": "Hidden from other professionals",
    "Mes documents": "My documents",
    "Messages envoyés (démo)": "Messages sent (demo)",
    "Mon application d'authentification": "My authenticator app",
    "Mon dossier": "My record",
    "Mon dossier médical": "My medical record",
    "Motif (obligatoire)": "Reason (required)",
    "Médecin traitant": "Attending doctor",
    "Médecin traitant (facultatif)": "Attending doctor (optional)",
    "Médecin traitant : {name}": "Attending doctor: {name}",
    "Ne plus masquer": "Stop hiding",
    "Non visible par le patient tant qu'il n'a pas été informé": (
        "Not visible to the patient until they have been informed"
    ),
    "Non visible par les représentants légaux": "Not visible to legal representatives",
    "Non, annuler": "No, cancel",
    "Notifications": "Notifications",
    "Nouveau code PIN (4 chiffres)": "New PIN (4 digits)",
    "Nouveau code PIN, une seconde fois": "New PIN, once more",
    "Oui, confirmer": "Yes, confirm",
    "Ouvrir le dossier": "Open the record",
    "Ouvrir le dossier du patient": "Open the patient's record",
    "Ouvrir mon dossier médical": "Open my medical record",
    (
        "Patient : votre carte Vitale, puis un code à usage unique reçu par SMS ou e-mail, ou "
        "donné par votre application."
    ): (
        "Patients: your Carte Vitale, then a one-time code received by SMS or email, or given "
        "by your app."
    ),
    "Patient : {name}": "Patient: {name}",
    "Patient : {name}, né(e) le {born}": "Patient: {name}, born {born}",
    "Personne": "No one",
    "Plus ancien": "Older",
    "Plus tard": "Later",
    "Prescription": "Prescription",
    "Professionnel de santé : votre carte professionnelle et son code PIN.": (
        "Healthcare professionals: your professional card and its PIN."
    ),
    "Professionnels bloqués": "Blocked professionals",
    "QR code d'enrôlement": "Enrolment QR code",
    "Qui a accès à mon dossier": "Who has access to my record",
    "Qui a accès, qui a lu": "Who has access, who has read it",
    "Qui a déjà lu mon dossier": "Who has already read my record",
    "Recevoir un code par SMS": "Receive a code by SMS",
    "Recevoir un code par e-mail": "Receive a code by email",
    (
        "Remettez au patient le reçu : il lui explique comment se connecter et comment contrôler "
        "son dossier."
    ): (
        "Give the patient the receipt: it explains how to sign in and how to control their record."
    ),
    "Remplacer le document": "Replace the document",
    "Remplacer par une version corrigée": "Replace with a corrected version",
    "Rendre « {title} » à nouveau visible par les professionnels qui y ont accès ?": (
        "Make “{title}” visible again to the professionals who have access?"
    ),
    "Reprenez votre carte, puis insérez-la à nouveau pour commencer.": (
        "Take your card back, then insert it again to start."
    ),
    "Retirer": "Remove",
    "Retour": "Back",
    "Retour au dossier": "Back to the record",
    "Retour à l'accueil": "Back to the home screen",
    "Reçu par SMS ou e-mail": "Received by SMS or email",
    "SMS": "SMS",
    "Saisie manuelle": "Manual entry",
    "Sans action de votre part, la session se termine dans {n} secondes.": (
        "Without any action from you, the session ends in {n} seconds."
    ),
    (
        "Scannez ce code avec votre application (par exemple FreeOTP ou Google Authenticator), "
        "puis saisissez le code à 6 chiffres qu'elle affiche."
    ): (
        "Scan this code with your app (for example FreeOTP or Google Authenticator), then "
        "enter the 6-digit code it shows."
    ),
    "Session terminée après une période d'inactivité.": (
        "Session ended after a period of inactivity."
    ),
    "Soins administrés": "Care administered",
    "Synthèse": "Summary",
    "Terminer": "Finish",
    "Titre": "Title",
    "Tous les documents": "All documents",
    (
        "Trois codes PIN erronés ont bloqué la carte. Débloquez-la avec le code de déblocage (PUK) "
        "reçu avec votre carte, et choisissez un nouveau code PIN."
    ): (
        "Three incorrect PINs have blocked the card. Unblock it with the unblocking code (PUK) "
        "you received with your card, and choose a new PIN."
    ),
    "Type de document": "Document type",
    "Téléphone mobile": "Mobile phone",
    (
        "Un document ne peut pas être à la fois masqué aux professionnels et invisible pour le "
        "patient."
    ): ("A document cannot be both hidden from professionals and invisible to the patient."),
    "Un médecin urgentiste peut lire le dossier en cas d'urgence (bris de glace).": (
        "An emergency doctor can read the record in an emergency (break the glass)."
    ),
    "Une erreur inattendue est survenue. Rien n'a été enregistré : recommencez.": (
        "An unexpected error occurred. Nothing has been saved: please start again."
    ),
    (
        "Une fois fermé, plus aucun professionnel n'aura accès à votre dossier. Il est conservé 10 "
        "ans puis supprimé ; vous pouvez le rouvrir à tout moment."
    ): (
        "Once closed, no professional will have access to your record. It is kept for 10 years "
        "and then deleted; you can reopen it at any time."
    ),
    "Valider": "Submit",
    "Visibilité": "Visibility",
    "Votre choix est enregistré.": "Your choice has been saved.",
    "Votre code à usage unique": "Your one-time code",
    (
        "Votre dossier est fermé : aucun professionnel n'y a accès. Il est conservé et peut être "
        "rouvert."
    ): ("Your record is closed: no professional has access to it. It is kept and can be reopened."),
    "Votre profession permet de lire : {cats}.": "Your profession allows you to read: {cats}.",
    "Votre session a pris fin. Recommencez en insérant votre carte.": (
        "Your session has ended. Start again by inserting your card."
    ),
    "Vous êtes déconnecté. Pensez à reprendre votre carte.": (
        "You are signed out. Remember to take your card."
    ),
    "aucun envoi": "no notifications",
    "autorisé": "allowed",
    "document du {date}": "document of {date}",
    "e-mail": "email",
    "refusé": "refused",
    "Équipe de soins": "Care team",
    "Établissement {finess}": "Facility {finess}",
    "Êtes-vous toujours là ?": "Are you still there?",
    "Être prévenu par": "Notify by",
}
