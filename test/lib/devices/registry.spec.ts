import assert from 'node:assert/strict';
import { checkDeviceType, DeviceTypeError, schemaErrors } from '../../../lib/devices/registry';
import { labDeviceType, labJournal } from '../../../lib/devices/types/lab';
import { nftablesDeviceType } from '../../../lib/devices/types/nftables';

describe('devices/registry', () => {
  it('accepts the built-in device types and validates settings against their schemas', () => {
    for (const t of [labDeviceType, nftablesDeviceType]) assert.equal(checkDeviceType(t).type, t);
    const lab = checkDeviceType(labDeviceType);
    assert.equal(lab.validateSettings({ fail: ['block-ip'] }), true);
    assert.equal(lab.validateSettings({ fail: ['launch-missiles'] }), false);
    assert.match(schemaErrors(lab.validateSettings), /fail\/0 must be equal to one of the allowed values/);
    assert.equal(lab.validateSettings({ colour: 'red' }), false);
  });

  it('refuses malformed device types with a reason', () => {
    const good = { ...labDeviceType };
    const cases: [unknown, RegExp][] = [
      [null, /must be an object/],
      [{ ...good, id: 'Bad Id' }, /device type id "Bad Id" must match/],
      [{ ...good, label: '' }, /label is missing/],
      [{ ...good, capabilities: [] }, /capabilities must list at least one/],
      [{ ...good, capabilities: ['block-ip', 'hack-back'] }, /unknown capability "hack-back"/],
      [{ ...good, create: 'no' }, /create must be a function/],
      [{ ...good, settingsSchema: { type: 'nonsense' } }, /settingsSchema is not a valid JSON schema/],
      [{ ...good, credentialsSchema: [] }, /credentialsSchema must be a JSON schema object/],
    ];
    for (const [input, reason] of cases)
      assert.throws(
        () => checkDeviceType(input),
        (e: Error) => e instanceof DeviceTypeError && reason.test(e.message),
      );
  });

  it('lab devices record what they are asked and say that they changed nothing', async () => {
    const device = labDeviceType.create({}, {}, { name: 'lab-1', log: () => {} });
    assert.equal((await device.health()).status, 'ok');
    const result = await device.execute('block-ip', { kind: 'ip', value: '45.155.205.1' }, { durationSeconds: 60 });
    assert.match(result.detail, /lab device lab-1: block-ip 45\.155\.205\.1 \(recorded only; nothing changed\)/);
    await device.revert('block-ip', { kind: 'ip', value: '45.155.205.1' }, result, {});
    assert.deepEqual(
      labJournal.slice(-2).map((r) => [r.device, r.call, r.action, r.target, r.durationSeconds]),
      [
        ['lab-1', 'execute', 'block-ip', '45.155.205.1', 60],
        ['lab-1', 'revert', 'block-ip', '45.155.205.1', undefined],
      ],
    );
    const failing = labDeviceType.create({ fail: ['isolate-host'], down: true }, {}, { name: 'lab-2', log: () => {} });
    assert.equal((await failing.health()).status, 'down');
    await assert.rejects(failing.execute('isolate-host', { kind: 'ip', value: '10.0.0.5' }, {}), /set to fail/);
  });
});
