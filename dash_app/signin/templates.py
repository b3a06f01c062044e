"""The HTML of the plain Flask pages around the Dash app: log in, log out, admins only."""
from __future__ import annotations

FORBIDDEN_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Admins only · FoldDeck</title>
<link rel="icon" href="/assets/favicon.ico">
<link rel="stylesheet" href="/assets/vendor/01-bootstrap-flatly.min.css">
<link rel="stylesheet" href="/assets/vendor/02-bootstrap-icons.min.css">
<link rel="stylesheet" href="/assets/folddeck.css"></head>
<body><nav class="navbar navbar-expand-md navbar-dark bg-primary mb-3" id="shell-navbar"><div class="container-fluid">
<a class="navbar-brand" href="/"><img src="/assets/favicon.ico" height="24" class="me-2" alt="">FoldDeck</a>
<div class="collapse navbar-collapse show"><ul class="navbar-nav me-auto">
{% for p in links %}<li class="nav-item"><a class="nav-link" href="{{ p.href }}" id="{{ p.id }}">
<i class="bi {{ p.icon }} me-1"></i>{{ p.name }}</a></li>{% endfor %}</ul>
<div class="d-flex align-items-center"><span class="navbar-text text-white me-3">
<i class="bi bi-person-circle me-1"></i><span id="nav-username">{{ username }}</span>
<span class="badge bg-light text-dark ms-2" id="nav-role">{{ role }}</span></span>
<form method="post" action="/logout" class="d-inline m-0">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button type="submit" class="btn btn-outline-light btn-sm" id="nav-logout">
<i class="bi bi-box-arrow-right me-1"></i>Log out</button></form></div></div></div></nav>
<main class="container-fluid fd-page pb-4"><div class="py-4" style="max-width:36rem" id="forbidden">
<h1 class="h3"><i class="bi bi-shield-lock me-2"></i>Admins only</h1>
<p>This page is for FoldDeck administrators. Your account ({{ username }}) is a regular user account.</p>
<a class="btn btn-primary" href="/">Back to your jobs</a></div></main></body></html>"""

LOGOUT_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log out · FoldDeck</title>
<link rel="stylesheet" href="/assets/vendor/01-bootstrap-flatly.min.css"></head>
<body class="bg-light"><main class="container py-5" style="max-width:32rem">
<h1 class="h3">Log out of FoldDeck?</h1>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button class="btn btn-primary" type="submit" id="logout-confirm">Log out</button>
<a class="btn btn-link" href="/">Stay</a></form></main></body></html>"""

LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · FoldDeck</title>
<link rel="icon" href="/assets/favicon.ico">
<link rel="stylesheet" href="/assets/vendor/01-bootstrap-flatly.min.css">
<link rel="stylesheet" href="/assets/folddeck.css">
</head><body class="fd-login-body">
<main class="fd-login card shadow-sm">
  <div class="card-body p-4">
    <h1 class="h4 mb-1">FoldDeck</h1>
    <p class="text-muted mb-4">AlphaFold 3 on your lab's GPUs</p>
    {% if notice %}<div class="alert alert-warning" role="alert" id="login-notice">{{ notice }}</div>{% endif %}
    {% if error %}<div class="alert alert-danger" role="alert" id="login-error">{{ error }}</div>{% endif %}
    {% if signin.sso_label %}
    <a class="btn btn-primary w-100 mb-3" id="login-sso" href="/login/oidc?next={{ next | urlencode }}">
      Sign in with {{ signin.sso_label }}</a>
    {% if signin.form %}<p class="text-center text-muted small mb-3" id="login-or">or</p>{% endif %}
    {% endif %}
    {% if signin.form %}
    <form method="post" action="/login" novalidate>
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <input type="hidden" name="next" value="{{ next }}">
      <div class="mb-3"><label class="form-label" for="username">{{ signin.username_label }}</label>
        <input class="form-control" id="username" name="username" value="{{ username }}" autocomplete="username"
               {% if not signin.sso_label %}autofocus{% endif %} required></div>
      <div class="mb-3"><label class="form-label" for="password">Password</label>
        <input class="form-control" id="password" name="password" type="password" autocomplete="current-password"
               required></div>
      <button class="btn {{ 'btn-outline-primary' if signin.sso_label else 'btn-primary' }} w-100" id="login-submit"
              type="submit">Log in</button>
    </form>
    {% endif %}
  </div>
</main></body></html>"""
