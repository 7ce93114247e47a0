"""Hostile and odd .xlsx files on the import: zip bombs, formula cells without a value, files past
the row cap; and uploaded attachments removed once no row refers to them."""
import io
import os
import re
import time
import tracemalloc
import zipfile

import openpyxl

from models.master import Unit
from test_excel_import import count_of, errors_of, unit_rows, upload, xlsx

SHEET = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         '<sheetData>%s</sheetData></worksheet>')


def repacked(content, replace):
    """The workbook `content` with some of its parts replaced: {name: bytes or an iterable of
    bytes blocks (streamed, so a bomb is never whole in memory)}."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, \
            zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename not in replace:
                target.writestr(item, source.read(item.filename))
        for name, data in replace.items():
            with target.open(name, 'w', force_zip64=True) as fh:
                for block in ([data] if isinstance(data, bytes) else data):
                    fh.write(block)
    return out.getvalue()


def shared_strings_bomb(entries, varied=False):
    """A workbook whose xl/sharedStrings.xml holds `entries` strings (small on disk; `varied`
    strings compress like real ones, so no size or ratio limit is what refuses them)."""
    base = xlsx(unit_rows(n=1))

    def blocks():
        yield ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.'
               'openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
               % (entries, entries)).encode()
        block = b'<si><t>x</t></si>' * 10000
        for n in range(entries // 10000):
            yield b''.join(b'<si><t>%d</t></si>' % (n * 10000 + i) for i in range(10000)) \
                if varied else block
        yield b'</sst>'
    return repacked(base, {'xl/sharedStrings.xml': blocks()})


def test_a_shared_strings_bomb_is_refused_quickly_in_bounded_memory(projects, client_as):
    bomb = shared_strings_bomb(3000000)      # 51 MB of XML, 3 million strings
    assert len(bomb) < 1024 * 1024
    clerk = client_as('clerk')
    tracemalloc.start()
    started = time.perf_counter()
    try:
        page = upload(clerk, 'unit', bomb).get_data(as_text=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert '超出一次导入的上限' in page and 'id="commit-form"' not in page
    assert peak < 40 * 1024 * 1024, peak          # openpyxl would hold 3 million strings
    assert time.perf_counter() - started < 60     # a generous guard only
    assert Unit.select().count() == 0


def test_many_shared_strings_under_every_size_limit_are_still_counted(app, projects, client_as):
    """The entry count binds on its own: a config of 100,000 refuses 200,000 tiny strings."""
    app.config['KEFU_IMPORT_MAX_SHARED_STRINGS'] = 100000
    page = upload(client_as('clerk'), 'unit', shared_strings_bomb(200000, varied=True)).get_data(as_text=True)
    assert '共享字符串超过 100000 条' in page


def test_a_part_that_unpacks_past_the_ratio_is_refused_before_parsing(app, projects, client_as):
    app.config['KEFU_IMPORT_MAX_SHARED_STRINGS'] = 10 ** 9
    base = xlsx(unit_rows(n=1))
    padded = repacked(base, {'docProps/custom.xml': (b' ' * (1024 * 1024) for _ in range(20))})
    page = upload(client_as('clerk'), 'unit', padded).get_data(as_text=True)
    assert '压缩比异常' in page and 'id="commit-form"' not in page


def test_a_zip_with_thousands_of_parts_is_refused(projects, client_as):
    base = xlsx(unit_rows(n=1))
    parts = repacked(base, {'x/%d.bin' % i: b'' for i in range(1200)})
    page = upload(client_as('clerk'), 'unit', parts).get_data(as_text=True)
    assert '个部件' in page and '超出一次导入的上限' in page


# ------------------------------------------------------------------ formulas

def with_formula_cells(rows, cells):
    """The workbook of `rows` with `cells` ({'E2': ('1+1', None or cached)}) turned into formulas,
    as a generator that does not compute them writes them."""
    base = xlsx(rows)
    with zipfile.ZipFile(io.BytesIO(base)) as book:
        sheet = book.read('xl/worksheets/sheet1.xml').decode()
    for ref, (formula, cached) in cells.items():
        value = '' if cached is None else '<v>%s</v>' % cached
        sheet = re.sub(r'<c r="%s"[^>]*?(/>|>.*?</c>)' % ref,
                       '<c r="%s"><f>%s</f>%s</c>' % (ref, formula, value), sheet, count=1)
    return repacked(base, {'xl/worksheets/sheet1.xml': sheet.encode()})


def test_a_formula_without_its_value_is_reported_by_row_and_column(projects, client_as):
    content = with_formula_cells(unit_rows(n=3), {'E3': ('B3*2', None), 'E4': ('1+1', 2)})
    page = upload(client_as('clerk'), 'unit', content).get_data(as_text=True)
    errors = errors_of(page)
    assert [(n, c) for n, c, _ in errors] == [(3, '楼层')], errors
    assert '单元格 E3' in errors[0][2] and '公式「=B3*2」' in errors[0][2]
    assert 'id="commit-form"' not in page and Unit.select().count() == 0


def test_a_formula_with_its_cached_value_imports_that_value(projects, client_as):
    content = with_formula_cells(unit_rows(n=1), {'E2': ('3+4', 7)})
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', content).get_data(as_text=True)
    assert count_of(page, 'create') == 1 and errors_of(page) == []


# ------------------------------------------------------------------ caps

def test_more_rows_than_the_cap_are_refused_with_how_to_split(app, projects, client_as):
    app.config['KEFU_IMPORT_MAX_ROWS'] = 50
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', xlsx(unit_rows(n=51))).get_data(as_text=True)
    assert '一次最多导入 50 行' in page and '拆成几个较小的文件' in page
    assert 'id="commit-form"' not in page
    page = upload(clerk, 'unit', xlsx(unit_rows(n=50))).get_data(as_text=True)
    assert count_of(page, 'create') == 50
    assert '数据不超过 50 行' in clerk.get('/admin/unit/import/').get_data(as_text=True)


def test_the_import_is_a_function_a_job_can_call(app, projects, users, tmp_path):
    from views.importer import import_file
    path = tmp_path / 'units.xlsx'
    path.write_bytes(xlsx(unit_rows(n=2)))
    view = next(v for v in app.extensions['admin'][0]._views
                if getattr(v, 'endpoint', '') == 'unit')
    with app.app_context():
        report = import_file(view, str(path), users['clerk'], commit=True)
    assert report.committed and report.created == 2 and Unit.select().count() == 2


# ------------------------------------------------------------------ attachments

PNG = b'\x89PNG\r\n\x1a\n' + b'\x00' * 64


def upload_photo(client, check, content):
    from load.forms import form_fields
    url = '/admin/floor_plan_check/edit/?id=%d' % check.id
    data = form_fields(client.get(url).get_data(as_text=True))
    data['photo'] = (io.BytesIO(content), 'photo.png')
    response = client.post(url, data=data, content_type='multipart/form-data')
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    from models.risk import FloorPlanCheck
    return FloorPlanCheck.get_by_id(check.id).photo


def test_a_replaced_or_purged_attachment_leaves_the_disk_once_no_row_refers_to_it(
        app, make, projects, users, client_as):
    import datetime
    from models.risk import FloorPlanCheck
    from views.uploads import upload_dir
    unit = make.unit(projects['mine'])
    check = FloorPlanCheck.create_logged(users['clerk'], project=projects['mine'], unit=unit,
                                         checked_on=datetime.date.today(), checker='张工')
    clerk = client_as('clerk')
    first = upload_photo(clerk, check, PNG + b'1')
    with app.app_context():
        folder = upload_dir()
    assert os.path.exists(os.path.join(folder, first))
    second = upload_photo(clerk, check, PNG + b'2')
    assert second != first and os.path.exists(os.path.join(folder, second))
    assert not os.path.exists(os.path.join(folder, first))          # replaced: gone
    # A file another row (here one in the recycle bin) still refers to stays.
    other = FloorPlanCheck.create_logged(users['clerk'], project=projects['mine'], unit=unit,
                                         checked_on=datetime.date.today(), checker='李工')
    FloorPlanCheck.update(photo=second).where(FloorPlanCheck.id == other.id).execute()
    other.delete_logged(users['clerk'])
    third = upload_photo(clerk, check, PNG + b'3')
    assert os.path.exists(os.path.join(folder, second)) and os.path.exists(os.path.join(folder, third))
    # Purging the binned row removes the file it alone held.
    admin = client_as('admin')
    response = admin.post_form('/admin/recycle/purge/floor_plan_check/%d' % other.id)
    assert response.status_code == 302 and not FloorPlanCheck.select().where(
        FloorPlanCheck.id == other.id).exists()
    assert not os.path.exists(os.path.join(folder, second))
    assert os.path.exists(os.path.join(folder, third))
