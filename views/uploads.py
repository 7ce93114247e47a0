"""Uploads (photos, attachments): size limit, type checked by content, random names, kept outside
the static folder and served only through a scoped view."""
import os
import secrets

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user, login_required
from wtforms import FileField
from wtforms.validators import Length

bp = Blueprint('uploads', __name__)

# Leading bytes of the types we accept; the browser's claimed type is not trusted.
SIGNATURES = {
    'image': ((b'\xff\xd8\xff', '.jpg'), (b'\x89PNG\r\n\x1a\n', '.png'), (b'GIF8', '.gif'),
              (b'RIFF', '.webp')),
    'pdf': ((b'%PDF-', '.pdf'),),
    'office': ((b'PK\x03\x04', '.xlsx'),),
}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


class UploadField(FileField):
    """The file input of an AttachmentField. The column's max_length limits the stored name, not
    the file: the Length validator the form converter derives from it would call len() on the
    uploaded file and fail, so it is dropped. Size and type are checked in `take_upload`."""

    def __init__(self, label=None, validators=None, **kwargs):
        validators = [v for v in (validators or ()) if not isinstance(v, Length)]
        super().__init__(label, validators, **kwargs)


def upload_dir():
    path = current_app.config.get('KEFU_UPLOAD_DIR') or os.path.join(current_app.instance_path,
                                                                      'uploads')
    os.makedirs(path, exist_ok=True)
    return path


def sniff(head, kinds):
    for kind in kinds:
        for magic, ext in SIGNATURES.get(kind, ()):
            if head.startswith(magic):
                if magic == b'RIFF' and head[8:12] != b'WEBP':
                    continue
                return ext
    return None


def take_upload(form_field, model_field):
    """Store the file in `form_field` if one was sent: its stored name, None if none, or False
    (with a Chinese error appended to the field) when it is refused."""
    storage = getattr(form_field, 'data', None)
    if storage is None or isinstance(storage, str) or not getattr(storage, 'filename', ''):
        return None
    limit = current_app.config.get('KEFU_MAX_UPLOAD_BYTES', MAX_UPLOAD_BYTES)
    data = storage.read(limit + 1)
    errors = form_field.errors = list(form_field.errors or [])
    if len(data) > limit:
        errors.append('文件过大：单个附件不能超过 %d MB。' % (limit // (1024 * 1024)))
        return False
    if not data:
        errors.append('文件为空。')
        return False
    ext = sniff(data[:16], getattr(model_field, 'kinds', ('image',)))
    if ext is None:
        errors.append('文件类型不允许：只接受 JPG/PNG/GIF/WEBP 图片、PDF 或 Excel 文件（按内容检查）。')
        return False
    name = secrets.token_hex(16) + ext
    with open(os.path.join(upload_dir(), name), 'wb') as fh:
        fh.write(data)
    return name


def stored_names(row):
    """The stored file names a row's attachment fields hold."""
    from models.base import AttachmentField
    return [row.__data__[n] for n, f in row._meta.fields.items()
            if isinstance(f, AttachmentField) and row.__data__.get(n)]


def discard(names):
    """Remove the stored files of `names` that no row of any register (live or in the recycle
    bin) refers to any more: a replaced or purged attachment does not stay on disk for ever."""
    from models.base import AttachmentField, all_registers
    for name in {n for n in names if n}:
        if any(model.select().where(fld == name).exists()
               for model in all_registers()
               for fld in model._meta.fields.values() if isinstance(fld, AttachmentField)):
            continue
        path = os.path.join(upload_dir(), os.path.basename(name))
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            current_app.logger.warning('could not remove the replaced upload %s: %s', path, exc)


@bp.route('/files/<table>/<int:row_id>/<field>')
@login_required
def serve(table, row_id, field):
    from models.base import all_registers, AttachmentField
    from views.base import scope_query
    model = next((m for m in all_registers() if m._meta.table_name == table), None)
    if model is None or not isinstance(model._meta.fields.get(field), AttachmentField):
        abort(404)
    row = scope_query(model, model.select(), current_user).where(model.id == row_id).first()
    if row is None or not row.__data__.get(field):
        abort(404)
    stored = os.path.basename(row.__data__[field])
    path = os.path.join(upload_dir(), stored)
    if not os.path.exists(path):
        abort(404)
    return send_file(path, download_name=stored, as_attachment=not is_image(stored))


IMAGE_SUFFIXES = ('.jpg', '.png', '.gif', '.webp')


def is_image(stored):
    """A stored photo: shown in the page (a thumbnail in details), not downloaded."""
    return bool(stored) and stored.lower().endswith(IMAGE_SUFFIXES)
