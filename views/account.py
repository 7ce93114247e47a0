"""修改密码: every user changes their own password; created users must at first login."""
from flask import Blueprint, flash, redirect, request, session, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo

from models.base import User, log_change, row_dict
from views.auth import check_password, hash_password, new_session_token
from views.pages import render_page

bp = Blueprint('account', __name__)

MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS = {
    '12345678', '123456789', '1234567890', 'password', 'password1', 'password123', 'qwerty123',
    'qwertyuiop', '1qaz2wsx', 'abc123456', 'a123456789', '11111111', '88888888', '66666666',
    '00000000', 'iloveyou', 'admin123', 'admin12345', 'woaini1314', '1234qwer', 'p@ssw0rd',
    'passw0rd', 'kefu123456', 'abcd1234', 'aa123456', '123123123', 'welcome1', 'changeme',
    '1234567890a', 'asdfghjkl', 'zxcvbnm123', 'q1w2e3r4t5', '147258369', '159753456',
}


def password_problems(password, username=''):
    """Why a new password is refused (empty list when it is acceptable)."""
    found = []
    if len(password or '') < MIN_PASSWORD_LENGTH:
        found.append('密码至少 %d 位。' % MIN_PASSWORD_LENGTH)
    lowered = (password or '').lower()
    if lowered in COMMON_PASSWORDS or (username and username.lower() in lowered):
        found.append('密码过于常见或包含用户名，请换一个。')
    return found


def set_password(user, password, actor, must_change=False):
    """Store a new password; ends every existing session of the user; logged."""
    before = _public(user)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.session_token = new_session_token()
    user.save()
    log_change('app_user', user.id, 'update', before, _public(user), actor)


def _public(user):
    data = row_dict(user)
    data.pop('password_hash', None)
    data.pop('session_token', None)
    return data


# What a user who must change their password may still reach: the change page itself, logging
# out, and the files those pages need.
OPEN_WHILE_MUST_CHANGE = {'account.change_password', 'auth.logout', 'auth.login', 'static',
                          'admin.static', 'home.healthz'}


@bp.before_app_request
def must_change_password_first():
    """A created user (or one whose password an admin reset) changes it before anything else:
    every other page, and every form post, leads back to the change page."""
    if request.endpoint in OPEN_WHILE_MUST_CHANGE or (request.endpoint or '').endswith('.static'):
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        if not session.get('_flashes'):
            flash('请先修改初始密码，然后才能使用系统。', 'warning')
        return redirect(url_for('account.change_password'))
    return None


class ChangePasswordForm(FlaskForm):
    current = PasswordField('当前密码', validators=[DataRequired(message='请输入当前密码。')])
    new = PasswordField('新密码', validators=[DataRequired(message='请输入新密码。')])
    again = PasswordField('再次输入新密码', validators=[
        DataRequired(message='请再次输入新密码。'), EqualTo('new', message='两次输入的新密码不一致。')])


@bp.route('/account/password', methods=['GET', 'POST'])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = User.get_by_id(current_user.id)
        if not check_password(user, form.current.data):
            form.current.errors = list(form.current.errors) + ['当前密码不正确。']
        else:
            problems = password_problems(form.new.data, user.username)
            if form.new.data == form.current.data:
                problems.append('新密码不能与当前密码相同。')
            if problems:
                form.new.errors = list(form.new.errors) + problems
            else:
                set_password(user, form.new.data, user, must_change=False)
                session.clear()
                session.permanent = True
                login_user(user)       # this session carries the new token; all others end
                flash('密码已修改，其他设备上的登录已失效。', 'success')
                return redirect(url_for('home.index'))
    return render_page('auth/change_password.html', form=form, title='修改密码')
