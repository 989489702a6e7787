// Drives the real Crush.pics Node client (@crush-pics/crush-pics, unchanged) against a Crush server, the way
// its README uses it, and prints one JSON line: every call's HTTP status and answer, in order.
//
//   CRUSH_URL=http://127.0.0.1:8000 CRUSH_TOKEN=crush_… CRUSH_PHOTO=photo.jpg \
//   CRUSH_CALLBACK_URL=https://example.com/hook node drive.js
//
// Exit status 0 when every call ran (whatever it answered; the caller judges the answers), 1 otherwise.
'use strict'

const crushPics = require('@crush-pics/crush-pics')

const POLL_ATTEMPTS = 240 // original_images.get until the async original has ended: at most 240 × 0.5 s
const POLL_INTERVAL_MS = 500

const env = (name) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

const calls = []

// One client call: records {name, status, data}; an HTTP error answer is a result too, not a failure.
async function call (name, promise) {
  let entry
  try {
    const response = await promise
    entry = { name, status: response.status, data: response.data }
  } catch (error) {
    if (!error.response) throw error // no answer at all: connection refused, client bug, …
    entry = { name, status: error.response.status, data: error.response.data }
  }
  calls.push(entry)
  return entry
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function main () {
  // The client's documented options: api_token and baseUrl (config/server/config.js defaults to
  // https://api.crush.pics/v1).
  crushPics.configure({ api_token: env('CRUSH_TOKEN'), baseUrl: `${env('CRUSH_URL')}/v1` })
  const photo = env('CRUSH_PHOTO')

  await call('account.get', crushPics.account.get())
  await call('account.update', crushPics.account.update({ compression_level_jpg: 70, compression_type: 'lossy' }))

  const created = await call('callback_urls.create', crushPics.callback_urls.create({ url: env('CRUSH_CALLBACK_URL') }))
  await call('callback_urls.list', crushPics.callback_urls.list())
  const callbackId = created.data && created.data.callback_url && created.data.callback_url.id
  if (typeof callbackId === 'number') {
    await call('callback_urls.delete', crushPics.callback_urls.delete(callbackId))
  }

  await call('original_images.compress', crushPics.original_images.compress({
    file: photo,
    compression_type: 'lossy',
    compression_level: 75
  }))

  const submitted = await call('original_images.create', crushPics.original_images.create({ file: photo }))
  const originalId = submitted.data && submitted.data.original_image && submitted.data.original_image.id
  if (typeof originalId === 'number') {
    for (let attempt = 0; attempt < POLL_ATTEMPTS; attempt++) {
      const fetched = await call('original_images.get', crushPics.original_images.get(originalId))
      const status = fetched.data && fetched.data.original_image && fetched.data.original_image.status
      const ended = fetched.status !== 200 || status === 'completed' || status === 'failed'
      if (ended || attempt === POLL_ATTEMPTS - 1) break
      calls.pop() // only the last poll is reported
      await sleep(POLL_INTERVAL_MS)
    }
  }

  await call('original_images.list', crushPics.original_images.list())
  await call('dashboard.get', crushPics.dashboard.get({ report_type: 'week' }))

  await call('export.create', crushPics.export.create())
  for (let attempt = 0; attempt < POLL_ATTEMPTS; attempt++) {
    const fetched = await call('export.get', crushPics.export.get())
    const status = fetched.data && fetched.data.export && fetched.data.export.status
    const ended = fetched.status !== 200 || status === 'completed' || status === 'failed'
    if (ended || attempt === POLL_ATTEMPTS - 1) break
    calls.pop() // only the last poll is reported
    await sleep(POLL_INTERVAL_MS)
  }
}

main()
  .then(() => {
    process.stdout.write(JSON.stringify({ calls }) + '\n')
  })
  .catch((error) => {
    process.stdout.write(JSON.stringify({ calls, error: String(error && error.stack ? error.stack : error) }) + '\n')
    process.exitCode = 1
  })
