"""Read a page's form as a browser would submit it (standard library only, so the load and fault
scripts can use it against the real server too)."""
from html.parser import HTMLParser


class Field:
    def __init__(self, name, tag, kind='text', value='', options=(), required=False,
                 maxlength=None, data=None):
        self.name, self.tag, self.kind, self.value = name, tag, kind, value
        self.options = list(options)
        self.required = required
        self.maxlength = maxlength
        self.data = data or {}

    def __repr__(self):
        return '<Field %s %s/%s=%r>' % (self.name, self.tag, self.kind, self.value)


class FormParser(HTMLParser):
    """The fields of the first POST form on the page that carries a CSRF token."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []            # list of lists of Field
        self._fields = None
        self._select = None
        self._option = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'form':
            self._fields = []
            self.forms.append(self._fields)
            return
        if self._fields is None:
            return
        name = a.get('name')
        if tag == 'input' and name:
            kind = (a.get('type') or 'text').lower()
            if kind in ('submit', 'button', 'image', 'reset', 'file'):
                if kind == 'file':
                    self._fields.append(Field(name, 'input', 'file'))
                return
            if kind in ('checkbox', 'radio') and 'checked' not in a:
                self._fields.append(Field(name, 'input', kind, None, data=a))
                return
            self._fields.append(Field(name, 'input', kind, a.get('value', ''),
                                      required='required' in a, maxlength=a.get('maxlength'),
                                      data=a))
        elif tag == 'textarea' and name:
            self._textarea = Field(name, 'textarea', 'textarea', '', required='required' in a,
                                   maxlength=a.get('maxlength'), data=a)
            self._fields.append(self._textarea)
        elif tag == 'select' and name:
            self._select = Field(name, 'select', 'select-multiple' if 'multiple' in a else 'select',
                                 None, required='required' in a, data=a)
            self._fields.append(self._select)
        elif tag == 'option' and self._select is not None:
            self._option = [a.get('value'), '', 'selected' in a]
            self._select.options.append(self._option)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data
        elif self._option is not None:
            self._option[1] += data

    def handle_endtag(self, tag):
        if tag == 'textarea':
            if self._textarea is not None and self._textarea.value.startswith('\n'):
                self._textarea.value = self._textarea.value[1:]   # as browsers drop it
            self._textarea = None
        elif tag == 'option':
            if self._option is not None and self._option[0] is None:
                self._option[0] = self._option[1].strip()
            self._option = None
        elif tag == 'select' and self._select is not None:
            chosen = [o[0] for o in self._select.options if o[2]]
            if self._select.kind == 'select':
                first = self._select.options[0][0] if self._select.options else None
                self._select.value = chosen[0] if chosen else first
            else:
                self._select.value = chosen
            self._select = None
        elif tag == 'form':
            self._fields = None


def form_of(page):
    """The fields of the page's form that carries the CSRF token (Field objects)."""
    parser = FormParser()
    parser.feed(page)
    for fields in parser.forms:
        if any(f.name == 'csrf_token' for f in fields):
            return fields
    raise ValueError('no form with a csrf_token on the page')


def form_fields(page):
    """The values a browser would post for the page's form (unchecked boxes left out)."""
    data = {}
    for f in form_of(page):
        if f.kind == 'file' or f.value is None:
            continue
        data[f.name] = f.value
    return data
