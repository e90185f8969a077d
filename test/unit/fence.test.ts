/** Write fences: reading alarm notifications, and the fence state from its items. */
import { describe, expect, it } from 'vitest';
import { alarmStateChanges, fenceItem, fenceStateOf } from '../../src/core/fence.ts';

describe('alarmStateChanges', () => {
  it('reads a CloudWatch alarm Lambda action event', () => {
    const event = {
      source: 'aws.cloudwatch',
      alarmData: {
        alarmName: 'app/orders/lagP99/eu-west-1',
        state: { value: 'ALARM', reason: 'Threshold Crossed', timestamp: '2026-01-01T10:00:00.000+0000' },
      },
    };
    expect(alarmStateChanges(event)).toEqual([
      { alarmName: 'app/orders/lagP99/eu-west-1', state: 'ALARM', at: Date.parse('2026-01-01T10:00:00.000Z'), reason: 'Threshold Crossed' },
    ]);
  });

  it('reads alarm notifications delivered through SNS', () => {
    const message = {
      AlarmName: 'app/orders/backlogAge',
      NewStateValue: 'OK',
      NewStateReason: 'back to normal',
      StateChangeTime: '2026-01-01T10:05:00.000+0000',
    };
    expect(alarmStateChanges({ Records: [{ Sns: { Message: JSON.stringify(message) } }] })).toEqual([
      { alarmName: 'app/orders/backlogAge', state: 'OK', at: Date.parse('2026-01-01T10:05:00Z'), reason: 'back to normal' },
    ]);
  });

  it('INSUFFICIENT_DATA changes nothing', () => {
    expect(alarmStateChanges({ alarmData: { alarmName: 'a/b/dlq', state: { value: 'INSUFFICIENT_DATA', timestamp: '2026-01-01T10:00:00Z' } } })).toEqual([]);
  });

  it('names what is wrong with an event it cannot read', () => {
    expect(() => alarmStateChanges({ hello: 1 })).toThrow(/not a CloudWatch alarm event/);
    expect(() => alarmStateChanges({ alarmData: { state: { value: 'ALARM' } } })).toThrow(/alarmData.alarmName/);
    expect(() => alarmStateChanges({ Records: [{ Sns: { Message: 'nope' } }] })).toThrow(/Records\[0\].Sns.Message is not JSON/);
    expect(() => alarmStateChanges({ alarmData: { alarmName: 'a/b/dlq', state: { value: 'ALARM', timestamp: 'yesterday' } } })).toThrow(
      /a\/b\/dlq has no valid state timestamp/,
    );
  });
});

describe('fenceStateOf', () => {
  it('a table is fenced while any source is in ALARM; reasons oldest first', () => {
    const items = [
      fenceItem('orders', { source: 'alarm#app/orders/lagP99/eu-west-1', state: 'OK', at: 1 }),
      fenceItem('orders', { source: 'manual', state: 'ALARM', at: 30, reason: 'drill' }),
      fenceItem('orders', { source: 'alarm#app/orders/backlogAge', state: 'ALARM', at: 20 }),
    ];
    expect(fenceStateOf('orders', items)).toEqual({
      table: 'orders',
      fenced: true,
      reasons: [
        { source: 'alarm#app/orders/backlogAge', state: 'ALARM', at: 20 },
        { source: 'manual', state: 'ALARM', at: 30, reason: 'drill' },
      ],
    });
    expect(fenceStateOf('orders', items.slice(0, 1)).fenced).toBe(false);
    expect(fenceStateOf('orders', []).fenced).toBe(false);
  });
});
