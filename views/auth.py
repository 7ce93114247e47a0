"""登录 / 退出: Flask-Login with hashed passwords and sessions that end for real; the one check
every redirect target of the app goes through (`safe_url`)."""
import secrets
import unicodedata
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from models.base import User, now
from views.pages import render_page

bp = Blueprint('auth', __name__)
login_manager = LoginManager()
login_manager.login_view = 'auth.login'
login_manager.login_message = '请先登录。'
login_manager.login_message_category = 'warning'
login_manager.session_protection = 'strong'

# PBKDF2-SHA256 with 600,000 iterations (OWASP 2023 minimum for this scheme).
PASSWORD_METHOD = 'pbkdf2:sha256:600000'


def hash_password(password):
    from flask import has_app_context
    method = PASSWORD_METHOD
    if has_app_context():
        method = current_app.config.get('KEFU_PASSWORD_METHOD', PASSWORD_METHOD)
    return generate_password_hash(password, method=method)


def check_password(user, password):
    return bool(user) and check_password_hash(user.password_hash, password)


def new_session_token():
    return secrets.token_hex(16)


@login_manager.user_loader
def load_user(token):
    user_id, _, session_token = (token or '').partition(':')
    if not user_id.isdigit():
        return None
    user = User.get_or_none(User.id == int(user_id))
    if user is None or not user.active or not session_token or \
            not secrets.compare_digest(user.session_token or '', session_token):
        return None
    return user


# --------------------------------------------------------------------------- redirect targets

# Characters a browser drops or reads as a separator: control, format (zero-width, bidi),
# line and paragraph separators.
_UNSAFE_CATEGORIES = {'Cc', 'Cf', 'Zl', 'Zp'}
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + '?'


def safe_url(target):
    """`target` as a path on this site ('/…', ASCII only) to redirect to, or None.

    Refused: anything with a control, format or line-separator character (after stripping the
    ends) or a backslash; another scheme or host; a path that is not a single '/' followed by
    something other than '/' — also once percent-decoded (/%2f/evil, /%09/evil). An absolute
    URL of this very host is reduced to its path."""
    if not isinstance(target, str) or not target.strip() or len(target) > 4096:
        return None
    target = target.strip()
    if '\\' in target or any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in target):
        return None
    if target.startswith('//'):       # scheme-relative: another host, however many slashes
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        if parts.scheme.lower() not in ('http', 'https') or not parts.netloc or \
                parts.netloc.lower() != request.host.lower():
            return None
    path = parts.path
    decoded = path
    for _ in range(3):      # %252f → %2f → /
        decoded = unquote(decoded)
    if not path.startswith('/') or decoded.startswith('//') or '\\' in decoded or \
            any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in decoded):
        return None
    found = quote(path, safe=_PATH_SAFE)
    if parts.query:
        found += '?' + quote(parts.query, safe=_QUERY_SAFE)
    if parts.fragment:
        found += '#' + quote(parts.fragment, safe=_QUERY_SAFE)
    return found


def redirect_back(target, default):
    """A redirect to `target` when it is a safe path of this site, else to `default`."""
    return redirect(safe_url(target) or default)


def _admin_redirect_target(param_name='url'):
    return safe_url(request.values.get(param_name))


def _use_safe_url_in_flask_admin():
    """Flask-Admin's `?url=` return target (every create, edit, delete and action, and the
    "back" links it renders) goes through `safe_url` too."""
    import flask_admin.actions
    import flask_admin.helpers
    import flask_admin.model.base
    for module in (flask_admin.helpers, flask_admin.model.base, flask_admin.actions):
        module.get_redirect_target = _admin_redirect_target


_use_safe_url_in_flask_admin()


@bp.after_app_request
def _no_redirect_off_site(response):
    """A second line behind `safe_url`: no response of the app sends a browser elsewhere."""
    location = response.headers.get('Location')
    if location is not None and safe_url(location) is None:
        current_app.logger.warning('unsafe redirect target refused: %r', location)
        response.headers['Location'] = '/'
    return response


# --------------------------------------------------------------------------- login / logout

class LoginForm(FlaskForm):
    username = StringField('用户名', validators=[DataRequired(message='请输入用户名。'),
                                               Length(max=64)])
    password = PasswordField('密码', validators=[DataRequired(message='请输入密码。'),
                                               Length(max=256)])


def start_session(user):
    """The user (password checked) is signed in: the login recorded, the session renewed."""
    from views import security
    security.record_login(user.username, True)
    if not user.session_token:
        user.session_token = new_session_token()
    user.last_login_at = now()
    user.save(only=[User.session_token, User.last_login_at])
    session.clear()
    session.permanent = True
    login_user(user)


@bp.route('/login', methods=['GET', 'POST'])
def login():
    from views import security
    form = LoginForm()
    if request.method == 'POST':
        refused = security.login_refused(request.form.get('username', ''))
        if refused is not None:
            return refused
    if form.validate_on_submit():
        user = User.get_or_none(User.username == form.username.data.strip())
        if user is not None and user.active and check_password(user, form.password.data):
            start_session(user)
            if user.must_change_password:
                flash('首次登录请先修改密码。', 'warning')
                return redirect(url_for('account.change_password'))
            return redirect_back(request.args.get('next'), url_for('home.index'))
        security.record_login(form.username.data.strip(), False)
        # One message whether or not the user exists.
        form.password.errors = list(form.password.errors) + ['用户名或密码错误。']
    return render_page('auth/login.html', form=form, title='登录')


class LogoutForm(FlaskForm):
    pass


@bp.route('/logout', methods=['GET', 'POST'])
def logout():
    """GET only asks (a link or another site cannot sign anybody out); POST with the token ends
    every session of the user."""
    form = LogoutForm()
    if request.method == 'GET':
        if not current_user.is_authenticated:
            return redirect(url_for('auth.login'))
        return render_page('auth/logout.html', form=form, title='退出登录')
    form.validate_on_submit()         # CSRFProtect has checked the token already
    if current_user.is_authenticated:
        user = User.get_by_id(current_user.id)
        user.session_token = new_session_token()     # every copy of the old cookie stops working
        user.save(only=[User.session_token])
        logout_user()
    session.clear()
    flash('您已退出登录。', 'info')
    return redirect(url_for('auth.login'))


# --------------------------------------------------------------------------- idle sessions

@bp.route('/session/keepalive', methods=['POST'])
@login_required
def keepalive():
    """Typing keeps the session alive (portal.js posts here, at most every minute or so): the
    answer refreshes the session cookie and says how long it now lasts."""
    session.modified = True
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    return jsonify(ok=True, seconds=int(lifetime))


def unauthorized_json():
    return jsonify(ok=False, message='登录已过期，请重新登录。'), 401


def csrf_failed():
    """A form posted with a missing or stale token (the session ended, or was renewed in another
    tab): back to the form, through the login page when needed, where portal.js puts back what
    was typed. Never a bare error page that loses the text."""
    if request.path == url_for('auth.keepalive') or request.is_json:
        return unauthorized_json()
    form_page = safe_url(request.referrer) or safe_url(request.full_path.rstrip('?'))
    if request.path == url_for('auth.login'):
        form_page = safe_url(request.args.get('next'))
        flash('登录页面已过期，请重新登录。', 'warning')
        return redirect(url_for('auth.login', next=form_page) if form_page else
                        url_for('auth.login'), 303)
    if request.path == url_for('auth.logout'):
        return redirect(url_for('auth.logout'), 303)
    if not current_user.is_authenticated:
        flash('登录已过期，请重新登录。您填写的内容保存在本机浏览器中，登录后将自动填回。', 'warning')
        return redirect(url_for('auth.login', next=form_page or url_for('home.index')), 303)
    flash('页面已过期（安全令牌失效），未保存。您填写的内容已填回，请检查后再次保存。', 'warning')
    return redirect((form_page or url_for('home.index')).split('#')[0] + '#kefu-restore', 303)
