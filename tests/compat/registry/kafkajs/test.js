// KafkaJS 2.2.4 against Rill: create a topic, produce keyed records with
// headers (acks=all), consume them in a group from the beginning, commit,
// and read the committed offsets back. Prints "PASS kafkajs".
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, topic, group] = process.argv.slice(2)
const COUNT = 300
const kafka = new Kafka({ clientId: 'rill-compat', brokers: [bootstrap], logLevel: logLevel.WARN })

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
  await admin.disconnect()

  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = 0; i < COUNT; i++) {
    messages.push({ key: `k-${i}`, value: `v-${i}`, headers: { h: String(i) } })
  }
  await producer.send({ topic, messages, acks: -1 })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: group })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = new Map()
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.size} records in 60 s`)), 60000)
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.set(message.key.toString(), [message.value.toString(), message.headers.h.toString()])
        if (seen.size === COUNT) {
          clearTimeout(timer)
          resolve()
        }
      }
    })
  })
  await consumer.disconnect()
  for (let i = 0; i < COUNT; i++) {
    const got = seen.get(`k-${i}`)
    if (!got || got[0] !== `v-${i}` || got[1] !== String(i)) throw new Error(`record ${i} wrong: ${got}`)
  }

  const admin2 = kafka.admin()
  await admin2.connect()
  const offsets = await admin2.fetchOffsets({ groupId: group, topics: [topic] })
  await admin2.disconnect()
  const total = offsets[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0)
  if (total !== COUNT) throw new Error(`committed offsets sum to ${total}, not ${COUNT}`)
  console.log('PASS kafkajs')
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
