/**
 * Whether a member is a hub or a witness, when neither the configuration nor a report says: the
 * Admin API's AddMember keeps the role it was given in the Raft change's context
 * ({"peer", "client", "role"}), which every member applies with the membership.
 */

export type MemberKind = 'hub' | 'witness';

/** The role kept in a change context; null when there is none (or it is not one we know). */
export function kindFromContext(context: string | null): MemberKind | null {
  if (context === null) return null;
  try {
    const parsed: unknown = JSON.parse(context);
    const role = typeof parsed === 'object' && parsed !== null ? (parsed as { role?: unknown }).role : undefined;
    return role === 'hub' || role === 'witness' ? role : null;
  } catch {
    return null;
  }
}
