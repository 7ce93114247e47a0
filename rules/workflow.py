"""A register's status workflow: declared once (`Meta.workflow = Workflow(...)`), checked on every
save — created, edited, imported or changed by a bulk action alike (`Register.problems`).

A row created in a later status is checked as if it had walked there from the initial status: it
must carry what every status on the way requires, so a punch-list issue cannot be born 已关闭
without who was responsible, by when, when it was fixed and who verified it. Final statuses close
the row: only someone with `unlock_power` changes it, and leaving a final status is a reopening
with a reason (`Register.reopen_logged`), kept in the change log.

Plain values in, (field, 中文消息) out: tested without a database.
"""
from dataclasses import dataclass, field as dc_field
from typing import Optional


def is_empty(value):
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class Workflow:
    """field:         the status field (a flag such as 销单 works too: give `labels`)
    initial:       the status a row starts in
    final:         statuses that close the row (locked for users without `unlock_power`)
    requires:      {status: fields a row in that status must carry}
    transitions:   {status: statuses an edit may move it to}; None: any may follow any
    reopen_to:     the status a reopened row goes back to
    reopen_clears: fields emptied on reopening (the verification that proved wrong)
    labels:        how statuses read when the stored value is not their name
    """
    field: str
    initial: object
    final: tuple
    requires: dict = dc_field(default_factory=dict)
    transitions: Optional[dict] = None
    reopen_to: object = None
    reopen_clears: tuple = ()
    labels: dict = dc_field(default_factory=dict)
    unlock_power: str = 'approve'

    def label(self, status):
        return self.labels.get(status, status)

    def statuses(self):
        """Every status the workflow names, initial first."""
        found = [self.initial]
        for status in list(self.transitions or {}) + [s for v in (self.transitions or {}).values()
                                                       for s in sorted(v, key=str)] + \
                list(self.requires) + list(self.final):
            if status not in found:
                found.append(status)
        return found

    def locked_message(self, what, status):
        return ('该%s已「%s」，已锁定，您不能修改。如确需修改，请客服经理「重新打开」（须填写原因）。'
                % (what, self.label(status)))

    def path(self, status):
        """The statuses a row walks through from `initial` to `status` (both included, the
        shortest walk), or None when `status` cannot be reached."""
        if status == self.initial:
            return [status]
        if self.transitions is None:
            return [self.initial, status]
        walks, seen = [[self.initial]], {self.initial}
        while walks:
            walk = walks.pop(0)
            for step in sorted(self.transitions.get(walk[-1], ()), key=str):
                if step == status:
                    return walk + [step]
                if step not in seen:
                    seen.add(step)
                    walks.append(walk + [step])
        return None

    def required(self, statuses):
        """The fields the statuses require, in declaration order, once each."""
        found = []
        for status in statuses:
            for name in self.requires.get(status, ()):
                if name not in found:
                    found.append(name)
        return found

    def problems(self, values, before, *, what, label_of=lambda name: name,
                 may_change_closed=True, reopening=False):
        """(field, 中文消息) for every way saving `values` breaks the workflow.

        values:  the row's values; before: its stored values (None when creating)
        what:    the register's name; label_of(field): a field's label
        may_change_closed: the saving user may change a closed row (or changed nothing typed)
        reopening: the save is a reopening with a reason
        """
        name, status = self.field, values.get(self.field)
        if before is None:
            walk = self.path(status)
            if walk is None:
                yield name, '新建的%s不能直接为「%s」：须从「%s」开始按流程办理。' % (
                    what, self.label(status), self.label(self.initial))
                return
            entered = walk[1:]
            how = '（新建即视同已从「%s」按流程办理到此状态）' % self.label(self.initial)
        else:
            old = before.get(name)
            if old in self.final and not may_change_closed:
                yield None, self.locked_message(what, old)
                return
            if old in self.final and status not in self.final and not reopening:
                yield name, '「%s」的%s须由客服经理「重新打开」并填写原因，才能改回「%s」。' % (
                    self.label(old), what, self.label(status))
            elif status != old and old not in self.final and self.transitions is not None and \
                    status not in self.transitions.get(old, ()):
                allowed = sorted((self.label(s) for s in self.transitions.get(old, ())), key=str)
                yield name, '状态不能从「%s」直接改为「%s」（可改为：%s）。' % (
                    self.label(old), self.label(status), '、'.join(allowed) or '无')
            entered, how = [status], ''
        for missing in self.required(entered):
            if is_empty(values.get(missing)):
                yield missing, '状态为「%s」的%s须填写「%s」%s。' % (
                    self.label(status), what, label_of(missing), how)
