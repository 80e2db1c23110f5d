package cognito

// User statuses, as Cognito writes them in UserStatus (the SDK's
// types.UserStatusType values; a test checks the two lists agree). They are
// plain strings, like idmirror.User.Status, so other packages compare with
// them without conversions.
const (
	StatusConfirmed           string = "CONFIRMED"
	StatusUnconfirmed         string = "UNCONFIRMED"
	StatusForceChangePassword string = "FORCE_CHANGE_PASSWORD"
	StatusResetRequired       string = "RESET_REQUIRED"
	StatusExternalProvider    string = "EXTERNAL_PROVIDER"
	StatusArchived            string = "ARCHIVED"
	StatusCompromised         string = "COMPROMISED"
	StatusUnknown             string = "UNKNOWN"
)

// MFA names, as in AdminGetUser's UserMFASettingList and
// PreferredMfaSetting (idmirror.MFA.Preferred holds one of them).
const (
	MFASMS           string = "SMS_MFA"
	MFASoftwareToken string = "SOFTWARE_TOKEN_MFA"
)
