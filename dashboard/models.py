"""The dashboard's tables (the daily rollup and the budgets) are defined with the submission
that checks budgets against them, in ``generation.usage.models``; they keep this app's label,
table names and migrations. The dashboard itself only reads figures."""

from generation.usage.models import DailyUsage, RolledUpGeneration, TeamBudget, UserBudget

__all__ = ["DailyUsage", "RolledUpGeneration", "TeamBudget", "UserBudget"]
