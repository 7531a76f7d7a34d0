export { VipError, classifyCommandStderr, type VipErrorCode, type VipCommandFailure } from './errors.js';
export { parseVipAddress, validateInterfaceName, validateNetnsName, parseIpv4, formatIpv4, type VipAddress } from './address.js';
export { parseAddrShow, type InterfaceState, type InterfaceAddress } from './ip-json.js';
export {
  VipManager,
  type VipManagerOptions,
  type VipOutcome,
  type VipAction,
  type VipObservation,
  type VipAnnouncement,
  type VipStatus,
} from './manager.js';
export { VipReconciler, type VipReconcilerOptions } from './reconciler.js';
export { toVipControl, type VipControlLike } from './control.js';
