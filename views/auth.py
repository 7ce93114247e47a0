"""登录 / 退出: Flask-Login with hashed passwords and sessions that end for real."""
import secrets

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
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
    from flask import current_app, has_app_context
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


class LoginForm(FlaskForm):
    username = StringField('用户名', validators=[DataRequired(message='请输入用户名。'),
                                               Length(max=64)])
    password = PasswordField('密码', validators=[DataRequired(message='请输入密码。'),
                                               Length(max=256)])


def _safe_next(target):
    if target and target.startswith('/') and not target.startswith('//'):
        return target
    return url_for('home.index')


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
            security.record_login(user.username, True)
            if not user.session_token:
                user.session_token = new_session_token()
            user.last_login_at = now()
            user.save(only=[User.session_token, User.last_login_at])
            session.clear()
            session.permanent = True
            login_user(user)
            if user.must_change_password:
                flash('首次登录请先修改密码。', 'warning')
                return redirect(url_for('account.change_password'))
            return redirect(_safe_next(request.args.get('next')))
        security.record_login(form.username.data.strip(), False)
        # One message whether or not the user exists.
        form.password.errors = list(form.password.errors) + ['用户名或密码错误。']
    return render_page('auth/login.html', form=form, title='登录')


@bp.route('/logout', methods=['GET', 'POST'])
def logout():
    if current_user.is_authenticated:
        user = User.get_by_id(current_user.id)
        user.session_token = new_session_token()     # every copy of the old cookie stops working
        user.save(only=[User.session_token])
        logout_user()
    session.clear()
    flash('您已退出登录。', 'info')
    return redirect(url_for('auth.login'))
