#include "durable/record.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/crc32c.h"
#include "log_builder.h"

namespace durable {
namespace {

using test::OwnedRecord;

std::string le(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
  return out;
}

// A record frame around any payload, with a correct CRC: for payloads the encoder would never write.
std::string frame(std::string_view payload) {
  const std::string rest = le(payload.size(), 4) + std::string(payload);
  return le(base::crc32c_mask(base::crc32c(rest)), 4) + rest;
}

std::string encoded(const Record& record) {
  std::string out;
  const base::Status status = append_record(record, RecordLimits{}, out);
  EXPECT_TRUE(status) << status.message();
  return out;
}

void expect_round_trip(const Record& record) {
  const std::string bytes = encoded(record);
  EXPECT_EQ(bytes.size(), record_size(record));
  const Decoded decoded = decode_next(bytes, 0);
  ASSERT_EQ(decoded.status, DecodeStatus::kRecord) << decoded.reason;
  EXPECT_EQ(decoded.record, record);
  EXPECT_EQ(decoded.next_offset, bytes.size());
  EXPECT_EQ(decode_next(bytes, decoded.next_offset).status, DecodeStatus::kEnd);
}

TEST(Record, PutRoundTripsEveryField) {
  const std::string binary("\0\xff\x01\x80\r\n\t ", 8);
  expect_round_trip(put_record(UINT64_MAX, binary, binary + "value" + binary, UINT64_MAX, INT64_MIN, binary));
  expect_round_trip(put_record(1, "id", "v", 0, INT64_MAX, "text/plain; charset=utf-8"));
  expect_round_trip(put_record(2, "id", "v", 0x0102030405060708ULL, -1, "x"));
}

TEST(Record, BatchRecordRoundTripsAndIsLaidOutAsDocumented) {
  expect_round_trip(batch_record(1, 0));
  expect_round_trip(batch_record(UINT64_MAX, UINT64_MAX));
  const Record batch = batch_record(0x1122, 0x0102030405060708ULL);
  EXPECT_EQ(record_size(batch), kBatchRecordBytes);
  EXPECT_EQ(head_size(batch), kBatchRecordBytes);
  const std::string bytes = encoded(batch);
  EXPECT_EQ(bytes.substr(4), le(kBatchPayloadBytes, 4) + le(0x1122, 8) + "\x03" + le(0x0102030405060708ULL, 8));
}

TEST(Record, EmptyFieldsRoundTrip) {
  expect_round_trip(put_record(1, "", "", 0, 0, ""));
  expect_round_trip(delete_record(1, ""));
}

TEST(Record, MaximumFieldsRoundTrip) {
  const std::string id(kMaxIdBytes, 'i');
  const std::string content_type(kMaxContentTypeBytes, 'c');
  expect_round_trip(put_record(9, id, std::string(100'000, '\xee'), 1, 2, content_type));
  expect_round_trip(delete_record(9, id));

  // A payload exactly at the limit is encoded and decoded; one byte more is refused by both.
  const std::string value(1000, 'v');
  const std::string longer(1001, 'v');
  const Record at_limit = put_record(3, "id", value, 0, 0, "");
  const RecordLimits limits{static_cast<std::uint32_t>(record_size(at_limit) - kRecordFrameBytes)};
  std::string bytes;
  ASSERT_TRUE(append_record(at_limit, limits, bytes));
  EXPECT_EQ(decode_next(bytes, 0, limits).status, DecodeStatus::kRecord);
  const Record over = put_record(3, "id", longer, 0, 0, "");
  EXPECT_FALSE(check_record(over, limits));
  const std::string over_bytes = encoded(over);
  const Decoded refused = decode_next(over_bytes, 0, limits);
  EXPECT_EQ(refused.status, DecodeStatus::kCorrupt);
  EXPECT_EQ(refused.reason, "implausible payload length");
}

TEST(Record, FieldsOverTheirBoundsAreRefused) {
  std::string out = "kept";
  EXPECT_FALSE(append_record(put_record(1, std::string(kMaxIdBytes + 1, 'i'), "", 0, 0, ""), {}, out));
  EXPECT_FALSE(append_record(put_record(1, "id", "", 0, 0, std::string(kMaxContentTypeBytes + 1, 'c')), {}, out));
  EXPECT_FALSE(append_record(delete_record(1, std::string(kMaxIdBytes + 1, 'i')), {}, out));
  EXPECT_FALSE(append_record(put_record(0, "id", "v", 0, 0, ""), {}, out));  // sequence numbers start at 1
  Record delete_with_value = delete_record(1, "id");
  delete_with_value.value = "v";
  EXPECT_FALSE(append_record(delete_with_value, {}, out));
  Record unknown = put_record(1, "id", "", 0, 0, "");
  unknown.operation = static_cast<Operation>(4);
  EXPECT_FALSE(append_record(unknown, {}, out));
  Record batch_with_id = batch_record(1, 0);
  batch_with_id.id = "id";
  EXPECT_FALSE(append_record(batch_with_id, {}, out));
  Record batch_with_etag = batch_record(1, 0);
  batch_with_etag.etag = 1;
  EXPECT_FALSE(append_record(batch_with_etag, {}, out));
  Record put_with_durable_end = put_record(1, "id", "", 0, 0, "");
  put_with_durable_end.durable_end = 24;
  EXPECT_FALSE(append_record(put_with_durable_end, {}, out));
  EXPECT_FALSE(append_record(batch_record(0, 0), {}, out));
  EXPECT_EQ(out, "kept");
}

// The layout, byte by byte: what the format section of NOTES.md describes.
TEST(Record, DeleteLayout) {
  const std::string bytes = encoded(delete_record(0x0102030405060708ULL, "ab"));
  const std::string rest = le(13, 4) + le(0x0102030405060708ULL, 8) + "\x02" + le(2, 2) + "ab";
  EXPECT_EQ(bytes, le(base::crc32c_mask(base::crc32c(rest)), 4) + rest);
}

TEST(Record, PutLayout) {
  const std::string bytes = encoded(put_record(5, "id", "value", 0xAABBCCDDEEFF0011ULL, -2, "t/p"));
  const std::string rest = le(37 + 3 + 2 + 5, 4) + le(5, 8) + "\x01" + le(0xAABBCCDDEEFF0011ULL, 8) +
                           le(static_cast<std::uint64_t>(-2), 8) + le(3, 2) + "t/p" + le(2, 2) + "id" + le(5, 8) +
                           "value";
  EXPECT_EQ(bytes, le(base::crc32c_mask(base::crc32c(rest)), 4) + rest);
}

// The head and the value written apart (gather I/O) are the same bytes as the whole record, and the head's
// CRC covers the value it never held.
TEST(Record, HeadThenValueIsTheRecord) {
  const std::string value(5000, 'x');
  const Record record = put_record(8, "bucket", value, 77, 1234, "application/json");
  std::array<char, kMaxHeadBytes> head{};
  const auto size = encode_head(record, RecordLimits{}, head);
  ASSERT_TRUE(size) << size.status().message();
  EXPECT_EQ(*size, head_size(record));
  EXPECT_EQ(*size, record_size(record) - value.size());
  const std::string whole = std::string(head.data(), *size) + value;
  EXPECT_EQ(whole, encoded(record));

  std::string other_value = whole;
  other_value.back() = 'y';
  const Decoded decoded = decode_next(other_value, 0);
  EXPECT_EQ(decoded.status, DecodeStatus::kCorrupt);
  EXPECT_EQ(decoded.reason, "record checksum mismatch");

  std::array<char, 16> small{};
  EXPECT_FALSE(encode_head(record, RecordLimits{}, small));
  const std::string longest_id(kMaxIdBytes, 'i');
  const std::string longest_type(kMaxContentTypeBytes, 'c');
  EXPECT_EQ(head_size(put_record(1, longest_id, "v", 0, 0, longest_type)), kMaxHeadBytes);
  EXPECT_EQ(head_size(delete_record(1, "ab")), record_size(delete_record(1, "ab")));
}

TEST(Record, LimitsForAValueSize) {
  const RecordLimits limits = RecordLimits::for_values_up_to(1 << 20);
  const std::string id(kMaxIdBytes, 'i');
  const std::string value(1 << 20, 'v');
  const std::string content_type(kMaxContentTypeBytes, 'c');
  const Record largest = put_record(1, id, value, 0, 0, content_type);
  EXPECT_TRUE(check_record(largest, limits));
  EXPECT_EQ(record_size(largest) - kRecordFrameBytes, limits.max_payload_bytes);
  EXPECT_EQ(RecordLimits::for_values_up_to(UINT64_MAX).max_payload_bytes, UINT32_MAX);
}

TEST(DecodeNext, TellsTheEndATornRecordAndACorruptOne) {
  const std::string bytes = encoded(put_record(1, "id", "value", 0, 0, ""));
  EXPECT_EQ(decode_next(bytes, bytes.size()).status, DecodeStatus::kEnd);
  EXPECT_EQ(decode_next("", 0).status, DecodeStatus::kEnd);
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    const Decoded decoded = decode_next(std::string_view(bytes).substr(0, cut), 0);
    EXPECT_EQ(decoded.status, DecodeStatus::kTornTail) << "cut at " << cut;
    EXPECT_EQ(decoded.offset, 0u);
  }
  const Decoded zeros = decode_next(std::string(64, '\0'), 0);
  EXPECT_EQ(zeros.status, DecodeStatus::kCorrupt);
  EXPECT_EQ(zeros.reason, "implausible payload length");
  EXPECT_EQ(decode_next(bytes, bytes.size() + 1).status, DecodeStatus::kCorrupt);
}

// Payloads with a correct CRC that the encoder would never write: each refused for what it is.
TEST(DecodeNext, RefusesMalformedPayloadsWithAGoodChecksum) {
  const std::string seq = le(1, 8);
  const std::string put_fields = le(0, 8) + le(0, 8);
  const struct {
    std::string payload;
    std::string_view reason;
  } cases[] = {
      {le(0, 8) + "\x02" + le(2, 2) + "ab", "sequence number 0"},
      {seq + "\x04" + le(2, 2) + "ab", "unknown operation"},
      {seq + "\x03" + le(2, 2) + "ab", "payload cut short"},
      {seq + "\x03" + le(24, 8) + "x", "bytes after a batch record's durable end"},
      {seq + "\x02" + le(3, 2) + "ab", "payload cut short"},
      {seq + "\x02" + le(1, 2) + "ab", "bytes after a delete's id"},
      {seq + "\x02" + le(1025, 2) + std::string(1025, 'i'), "id over its bound"},
      {seq + "\x01" + put_fields + le(257, 2) + std::string(257, 'c') + le(0, 2) + le(0, 8),
       "content type over its bound"},
      {seq + "\x01" + put_fields + le(0, 2) + le(1025, 2) + std::string(1025, 'i') + le(0, 8), "id over its bound"},
      {seq + "\x01" + put_fields + le(0, 2) + le(2, 2) + "id" + le(4, 8) + "value",
       "value length disagrees with the payload length"},
      {seq + "\x01" + put_fields + le(0, 2) + le(2, 2) + "id" + le(6, 8) + "value",
       "value length disagrees with the payload length"},
      {seq + "\x01" + put_fields + le(0, 2) + le(2, 2) + "id", "payload cut short"},
  };
  for (const auto& c : cases) {
    const std::string bytes = frame(c.payload);
    const Decoded decoded = decode_next(bytes, 0);
    EXPECT_EQ(decoded.status, DecodeStatus::kCorrupt) << c.reason;
    EXPECT_EQ(decoded.reason, c.reason);
  }
  // The frame itself is right: the well-formed versions decode.
  EXPECT_EQ(decode_next(frame(seq + "\x02" + le(2, 2) + "ab"), 0).status, DecodeStatus::kRecord);
  EXPECT_EQ(decode_next(frame(seq + "\x03" + le(24, 8)), 0).status, DecodeStatus::kRecord);
  EXPECT_EQ(decode_next(frame(seq + "\x01" + put_fields + le(0, 2) + le(2, 2) + "id" + le(5, 8) + "value"), 0).status,
            DecodeStatus::kRecord);
}

TEST(DecodeNext, EveryBitFlipInARecordIsCaught) {
  const std::string bytes = encoded(put_record(3, "id", "some value", 9, 10, "text/plain"));
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(decode_next(flipped, 0).status, DecodeStatus::kRecord) << "bit " << bit;
  }
}

TEST(FileHeader, RoundTripsAndIsLaidOutAsDocumented) {
  const auto header = encode_file_header(0x0102030405060708ULL);
  const std::string_view bytes(header.data(), header.size());
  EXPECT_EQ(bytes.substr(0, 8), std::string_view("SAPILOG\0", 8));
  EXPECT_EQ(bytes.substr(8, 4), le(kLogFormatVersion, 4));
  EXPECT_EQ(bytes.substr(12, 8), le(0x0102030405060708ULL, 8));
  EXPECT_EQ(bytes.substr(20, 4), le(base::crc32c_mask(base::crc32c(bytes.substr(0, 20))), 4));
  const auto decoded = decode_file_header(bytes);
  ASSERT_TRUE(decoded) << decoded.status().message();
  EXPECT_EQ(decoded->segment, 0x0102030405060708ULL);
  EXPECT_EQ(decoded->version, kLogFormatVersion);
}

TEST(FileHeader, ChecksMagicVersionAndChecksum) {
  const auto header = encode_file_header(5);
  const std::string good(header.data(), header.size());
  FileHeader out;
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::string flipped = good;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    const HeaderCheck check = check_file_header(flipped, out);
    EXPECT_EQ(check, bit < 64 ? HeaderCheck::kBadMagic : HeaderCheck::kBadChecksum) << "bit " << bit;
    EXPECT_FALSE(decode_file_header(flipped)) << "bit " << bit;
  }
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_EQ(check_file_header(good.substr(0, cut), out), HeaderCheck::kCutShort) << "cut " << cut;
  }
  EXPECT_EQ(check_file_header("SAPILOX", out), HeaderCheck::kBadMagic);

  // Version 2 with a checksum that matches: intact, but not ours to read.
  std::string newer = good.substr(0, 8) + le(2, 4) + good.substr(12, 8);
  newer += le(base::crc32c_mask(base::crc32c(newer)), 4);
  EXPECT_EQ(check_file_header(newer, out), HeaderCheck::kUnsupportedVersion);
  const auto refused = decode_file_header(newer);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().message(), "log format version 2, this build reads 1");
}

TEST(ValidRecordAt, ChecksTheSequenceAndCountsCrcWork) {
  const std::string bytes = "xx" + encoded(delete_record(5, "id"));
  std::uint64_t crc_bytes = 0;
  EXPECT_TRUE(valid_record_at(bytes, 2, RecordLimits{}, 4, crc_bytes));
  EXPECT_EQ(crc_bytes, bytes.size() - 2 - 4);
  EXPECT_FALSE(valid_record_at(bytes, 2, RecordLimits{}, 5, crc_bytes));  // not above 5: no CRC needed
  EXPECT_EQ(crc_bytes, bytes.size() - 2 - 4);
  EXPECT_FALSE(valid_record_at(bytes, 1, RecordLimits{}, 0, crc_bytes));
  EXPECT_FALSE(valid_record_at(bytes, 3, RecordLimits{}, 0, crc_bytes));
  EXPECT_FALSE(valid_record_at(bytes, bytes.size() + 5, RecordLimits{}, 0, crc_bytes));
}

}  // namespace
}  // namespace durable
