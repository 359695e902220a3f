"""probdeg's BasicSR models; registered explicitly by ``probdeg.integrations.basicsr.registration``."""
