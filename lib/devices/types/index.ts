/** The device types that come with the package; plug-in packages add more (see README, "Device plug-ins"). */
import type { DeviceType } from '../model';
import { labDeviceType } from './lab';
import { nftablesDeviceType } from './nftables';
import { restDeviceType } from './rest';

export const BUILT_IN_DEVICE_TYPES: readonly DeviceType[] = [
  labDeviceType,
  nftablesDeviceType,
  restDeviceType,
] as unknown as DeviceType[];
