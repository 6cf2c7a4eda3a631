// The allow-list on its own: which client addresses each kind of entry admits (IPv4, IPv6, CIDR,
// IPv4-mapped IPv6 as dual-stack sockets report IPv4 peers), and which entries are refused.

import { describe, expect, test } from 'bun:test'
import { AllowList, parseAddress } from '../../src/security/allow-list.ts'
import { expectCode } from '../contract/helpers.ts'

// [entries, address, allowed]
const CASES: [string[], string, boolean][] = [
  [['127.0.0.1'], '127.0.0.1', true],
  [['127.0.0.1'], '127.0.0.2', false],
  [['127.0.0.1'], '::ffff:127.0.0.1', true],
  [['127.0.0.1'], '::1', false],
  [['127.0.0.0/8'], '127.255.3.4', true],
  [['127.0.0.0/8'], '128.0.0.1', false],
  [['10.0.0.0/8'], '10.200.1.1', true],
  [['10.0.0.0/8'], '11.0.0.1', false],
  [['192.168.1.0/24'], '192.168.1.254', true],
  [['192.168.1.0/24'], '192.168.2.1', false],
  [['172.16.0.0/12'], '172.31.255.255', true],
  [['172.16.0.0/12'], '172.32.0.0', false],
  [['10.1.2.3/31'], '10.1.2.2', true],
  [['10.1.2.3/31'], '10.1.2.4', false],
  [['0.0.0.0/0'], '203.0.113.9', true],
  [['0.0.0.0/0'], '::1', false],
  [['::1'], '::1', true],
  [['::1'], '[::1]', true],
  [['::1'], '0:0:0:0:0:0:0:1', true],
  [['::1'], '::2', false],
  [['::1'], '127.0.0.1', false],
  [['fd00::/8'], 'fd12:3456::1', true],
  [['fd00::/8'], 'fe80::1', false],
  [['fe80::/10'], 'fe80::1%eth0', true],
  [['fe80::/10'], 'fec0::1', false],
  [['2001:db8::/32'], '2001:DB8:ffff::1', true],
  [['2001:db8::/32'], '2001:db9::1', false],
  [['::/0'], '2001:db8::1', true],
  // A mapped address is the IPv4 address it carries: ::/0 is IPv6 only, as 0.0.0.0/0 is IPv4 only.
  [['::/0'], '::ffff:10.0.0.1', false],
  [['::ffff:10.0.0.1'], '10.0.0.1', true],
  [['::ffff:10.0.0.1'], '::ffff:10.0.0.1', true],
  [['::ffff:10.0.0.1'], '::ffff:a00:1', true],
  [['::ffff:10.0.0.0/104'], '10.9.9.9', true],
  [['::ffff:10.0.0.0/104'], '11.0.0.1', false],
  [['::ffff:0:0/96'], '198.51.100.7', true],
  [['::ffff:0:0/96'], '2001:db8::1', false],
  [['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8'], '10.0.0.5', true],
  [['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8'], 'fdff::5', true],
  [['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8'], '192.0.2.1', false],
  [[' 127.0.0.1 '], '127.0.0.1', true],
  [[], '127.0.0.1', false],
  [['127.0.0.1'], '', false],
  [['127.0.0.1'], 'localhost', false],
  [['127.0.0.1'], 'not an address', false],
]

describe('AllowList.allows', () => {
  for (const [entries, address, allowed] of CASES) {
    test(`[${entries.join(', ')}] ${allowed ? 'admits' : 'refuses'} "${address}"`, () => {
      expect(new AllowList(entries).allows(address)).toBe(allowed)
    })
  }
})

const BAD_ENTRIES: [string, unknown][] = [
  ['an empty string', ''],
  ['a host name', 'localhost'],
  ['three IPv4 parts', '10.0.0'],
  ['five IPv4 parts', '10.0.0.0.1'],
  ['an IPv4 part over 255', '256.0.0.1'],
  ['an IPv4 part with a leading zero (octal in some parsers)', '010.0.0.1'],
  ['a negative IPv4 part', '-1.0.0.1'],
  ['an IPv4 prefix over 32', '10.0.0.0/33'],
  ['an empty prefix', '10.0.0.0/'],
  ['a negative prefix', '10.0.0.0/-1'],
  ['a hexadecimal prefix', '10.0.0.0/0x8'],
  ['a fractional prefix', '10.0.0.0/8.5'],
  ['a prefix with a space', '10.0.0.0/ 8'],
  ['two prefixes', '10.0.0.0/8/8'],
  ['an IPv6 prefix over 128', '::1/129'],
  ['an IPv4-mapped prefix under 96', '::ffff:10.0.0.0/80'],
  ['two "::"', 'fd00::1::2'],
  ['nine IPv6 groups', '1:2:3:4:5:6:7:8:9'],
  ['seven IPv6 groups without "::"', '1:2:3:4:5:6:7'],
  ['an IPv6 group of five digits', 'fd000::1'],
  ['a non-hex IPv6 group', 'fg00::1'],
  ['a bad embedded IPv4 tail', '::ffff:300.0.0.1'],
  ['a number', 127001],
  ['null', null],
]

describe('AllowList entries', () => {
  for (const [what, entry] of BAD_ENTRIES) {
    test(`${what} is refused with BAD_ARGUMENT`, async () => {
      await expectCode(() => new AllowList([entry as string]), 'BAD_ARGUMENT')
    })
  }

  test('one bad entry among good ones refuses the whole list', async () => {
    await expectCode(() => new AllowList(['127.0.0.1', 'nope', '::1']), 'BAD_ARGUMENT')
  })
})

describe('parseAddress', () => {
  const addresses: [string, number[] | undefined][] = [
    ['127.0.0.1', [127, 0, 0, 1]],
    ['::ffff:127.0.0.1', [127, 0, 0, 1]],
    ['::ffff:7f00:1', [127, 0, 0, 1]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['[fe80::1]', [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['fe80::1%lo0', [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['::', new Array(16).fill(0)],
    ['1.2.3', undefined],
    ['::g', undefined],
  ]
  for (const [text, bytes] of addresses) {
    test(`"${text}" parses to ${bytes === undefined ? 'nothing' : `${bytes.length} bytes`}`, () => {
      const parsed = parseAddress(text)
      expect(parsed === undefined ? undefined : [...parsed]).toEqual(bytes)
    })
  }
})
