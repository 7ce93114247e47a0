"""Demo of the verifications recorded on site (验收复验记录, models/site_walk.py): the issues of the
handover project closed after an internal acceptance round carry the check that closed them."""
from models.delivery import InspectionIssue
from models.site_walk import IssueCheck
from seeds import insert_derived


def seed(ctx):
    project = ctx.projects[0]
    closed = (InspectionIssue.select()
              .where((InspectionIssue.project == project.id) & (InspectionIssue.status == '已关闭') &
                     InspectionIssue.verified_on.is_null(False))
              .order_by(InspectionIssue.id).limit(6))
    insert_derived(IssueCheck, [
        IssueCheck(project=project.id, issue=issue.id, round=issue.round_id, result='通过',
                   checked_on=issue.verified_on, checked_by=issue.verified_by or '王静',
                   note='现场复验，整改到位。') for issue in closed])
