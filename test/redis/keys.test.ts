// Key naming on Redis (src/redis/keys.ts): a table's keys share one hash tag whatever its name,
// two names never share keys, and dict keys keep 0 and '0' apart.

import { describe, expect, test } from 'bun:test'
import { decodeKey, encodeKey, keyList, slotTag, tableKeys } from '../../src/redis/keys.ts'

// Redis hashes the part between the first '{' and the next '}' when that part is not empty.
function hashTag(key: string): string {
  const open = key.indexOf('{')
  const close = key.indexOf('}', open + 1)
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key
}

describe('table keys', () => {
  const names = ['users', 'a}b', '{x}', '}', '%7D', '', 'ü{}%', 'with space']
  for (const name of names) {
    test(`every key of table ${JSON.stringify(name)} has the one tag ${JSON.stringify(slotTag(name))}`, () => {
      const tags = new Set(keyList(tableKeys(name)).map(hashTag))
      expect([...tags]).toEqual([slotTag(name)])
      expect(keyList(tableKeys(name)).every((key) => key !== hashTag(key))).toBe(true)
    })
  }

  test('two different names never share a key', () => {
    const all = names.flatMap((name) => keyList(tableKeys(name)))
    expect(new Set(all).size).toBe(all.length)
  })
})

describe('dict keys as hash fields', () => {
  const cases: [string, string | number, string][] = [
    ['the number 0', 0, 'n0'], ['the string "0"', '0', 's0'], ['-0 (a Map\'s 0)', -0, 'n0'],
    ['NaN', NaN, 'nNaN'], ['Infinity', Infinity, 'nInfinity'], ['a float', 1.5, 'n1.5'],
    ['the empty string', '', 's'], ['a string that looks like a number field', 'n1', 'sn1'],
  ]
  for (const [what, key, field] of cases) {
    test(`${what} is the field ${JSON.stringify(field)} and reads back as the same key`, () => {
      expect(encodeKey(key)).toBe(field)
      expect(Object.is(decodeKey(field), Object.is(key, -0) ? 0 : key)).toBe(true)
    })
  }
})
