"""修改密码: every user changes their own password; created users must at first login."""
import functools

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
MIN_STRENGTH = 3              # zxcvbn's score 0–4: 3 = "safely unguessable", ~10^8 guesses
DEFAULT_DEMO_PASSWORD = 'kefu-demo-2026'     # the README's demo password
# Words of Chinese passwords that zxcvbn's (English) lists do not know; the portal's own names.
LOCAL_WORDS = ('woaini', 'wodemima', 'mima', 'aini', 'nihao', 'zhongguo', 'iloveyou', '5201314',
               '1314520', '1314', '520', 'kefu', 'taizhang', 'kefutaizhang', 'demo', 'admin')
# zxcvbn's pattern → what a person makes of it.
PATTERN_HINTS = {
    'repeat': '重复的字符或片段（如 aaaa、abcabc）',
    'sequence': '连续的数字或字母（如 123456、abcdef）',
    'spatial': '键盘上相邻的按键（如 qwerty、1qaz2wsx）',
    'dictionary': '常见密码、单词或姓名',
    'date': '日期或年份',
    'regex': '年份',
}


@functools.lru_cache(maxsize=1)
def _common_passwords():
    """The 30,000 most common passwords zxcvbn ships (ranked from leaked password lists)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(FREQUENCY_LISTS['passwords'])


def demo_passwords():
    """The published demo password and the configured one: never the password of a real user."""
    from flask import current_app, has_app_context
    found = {DEFAULT_DEMO_PASSWORD}
    if has_app_context() and current_app.config.get('KEFU_DEMO_PASSWORD'):
        found.add(current_app.config['KEFU_DEMO_PASSWORD'])
    return found


def password_problems(password, username=''):
    """Why a new password is refused (empty list when it is acceptable): too short, the demo
    password, a common password, contains the user name, or guessable (zxcvbn score < 3)."""
    from zxcvbn import zxcvbn
    password = password or ''
    found = []
    if len(password) < MIN_PASSWORD_LENGTH:
        found.append('密码至少 %d 位。' % MIN_PASSWORD_LENGTH)
    lowered = password.lower()
    if lowered in {p.lower() for p in demo_passwords()}:
        found.append('不能使用演示密码，请换一个。')
    elif lowered in _common_passwords() or lowered in LOCAL_WORDS:
        found.append('密码过于常见，请换一个。')
    if username and username.lower() in lowered:
        found.append('密码不能包含用户名。')
    if found:
        return found
    result = zxcvbn(password[:100], user_inputs=[username] + list(LOCAL_WORDS))
    if result['score'] < MIN_STRENGTH:
        hints = []
        for match in result['sequence']:
            hint = PATTERN_HINTS.get(match['pattern'])
            if hint and hint not in hints:
                hints.append(hint)
        found.append('密码太容易被猜到%s。请用更长、更随机的密码，例如几个不相关的词加数字和符号。' % (
            '：含有' + '；'.join(hints) if hints else ''))
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
                          'admin.static', 'home.healthz', 'auth.keepalive'}


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
