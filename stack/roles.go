package stack

// Built-in role definition ids that a slot's identity needs, from Microsoft's Flex Consumption
// samples.
const (
	roleStorageBlobDataOwner       = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
	roleStorageBlobDataContrib     = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
	roleStorageQueueDataContrib    = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
	roleStorageTableDataContrib    = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
	roleMonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb"
)
