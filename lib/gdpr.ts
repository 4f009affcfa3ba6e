/** GDPR Art. 33: notify the supervisory authority within 72 hours of awareness. Pure (workflow sandbox). */
export const GDPR_DEADLINE_HOURS = 72;
