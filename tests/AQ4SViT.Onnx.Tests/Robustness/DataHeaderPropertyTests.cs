using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using AQ4SViT.Onnx.Data;
using AQ4SViT.Onnx.Core;
using CsCheck;

namespace AQ4SViT.Onnx.Tests.Robustness;

/// <summary>
/// Property tests with shrinking (CsCheck) for the binary data readers: IDX (plain and gzip, <see cref="IdxReader"/>),
/// CIFAR-10/100 batches (<see cref="CifarReader"/>), <c>.npy</c> pairs and <c>.npz</c> archives (<see cref="NpyReader"/>),
/// each loaded the way <c>--data</c> loads it. The inputs are built from their headers (magic, element type, rank, sizes
/// that are 0, negative or overflow a long when multiplied; descr, fortran_order, shape, header length; record sizes,
/// label bytes) and data shorter or longer than declared. Any input either loads into a set consistent with its header
/// or is a <see cref="BadInputException"/> naming the file, and never allocates more than 64 MB + 16× its bytes; on
/// anything else CsCheck shrinks it and the failure prints the smallest header that breaks the reader, with the seed
/// that replays it. AQ4SVIT_FUZZ_SCALE multiplies the iterations.
/// </summary>
public sealed class DataHeaderPropertyTests
{
    private static readonly int s_scale = int.TryParse(Environment.GetEnvironmentVariable("AQ4SVIT_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;

    /// <summary>A size: mostly small, sometimes large enough that three or four of them overflow a long, or negative.</summary>
    private static readonly Gen<int> s_dim = Gen.Frequency(
        (8, Gen.Int[0, 4]),
        (3, Gen.OneOf(1 << 16, 46341, 1 << 30, int.MaxValue)),
        (1, Gen.OneOf(-1, int.MinValue)));

    private static readonly Gen<int> s_cut = Gen.Frequency((6, Gen.Const(-1)), (1, Gen.Int[0, 40]));

    private static readonly Gen<IdxFile> s_idxImages = Idx([3, 4], Gen.Frequency((3, Gen.Int[1, 4]), (1, s_dim)));

    private static readonly Gen<string> s_smallDim = Gen.Int[1, 4].Select(i => i.ToString(CultureInfo.InvariantCulture));

    /// <summary>A size in a shape: as <see cref="s_dim"/>, and text that is no size.</summary>
    private static readonly Gen<string> s_shapeDim = Gen.Frequency(
        (8, Gen.Int[0, 4].Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (2, Gen.OneOf("65536", "46341", "1073741824", "2147483647")),
        (1, Gen.OneOf("-1", "2147483648", "3L", "", "x", " 2 ", "+3")));

    private static readonly Gen<NpyFile> s_npyImages = Npy(
        [3, 4, 5],
        Gen.Frequency((3, s_smallDim), (1, s_shapeDim)),
        Gen.Frequency((6, Gen.OneOf("|u1", "<f4", "<f8")), (2, Gen.OneOf("<i8", "<i4", "<u2", "|i1", "|b1", "u1")), (1, Gen.OneOf(">f4", "<f2", "|S3", "<c8", "", "O"))));

    [Fact]
    public void Idx_AnyHeaders_LoadConsistentOrIsBadInputNamingTheFile()
    {
        var gen = s_idxImages.SelectMany(images => Idx([1], Gen.Frequency((6, Gen.Const(images.Dims.FirstOrDefault(1))), (1, s_dim))).Select(labels => (images, labels)));
        using var dir = new TempDir();
        string imagesPath = dir.File(IdxReader.TestImagesName), labelsPath = dir.File(IdxReader.TestLabelsName);

        gen.Sample(
            pair =>
            {
                var (images, labels) = pair;
                byte[] imageBytes = images.Bytes(), labelBytes = labels.Bytes();
                File.WriteAllBytes(imagesPath, imageBytes);
                File.WriteAllBytes(labelsPath, labelBytes);

                var set = LoadOrBadInput(() => DataLoader.LoadUnsplit(null, new DataOptions { Format = "idx", ImagesFile = imagesPath, LabelsFile = labelsPath }), imageBytes.Length + labelBytes.Length, imagesPath, labelsPath);
                if (set is null)
                {
                    return;
                }

                int n = images.Dims[0];
                Assert.Equal(n, set.Count);
                Assert.Equal(images.Dims[1..].Aggregate(1L, (a, d) => a * d), set.PixelsPerImage);
                Assert.Equal(labels.Data()[..n].Select(b => (int)b), set.Labels);
                if (images.Dims.Length == 3)
                {
                    Assert.Equal(images.Data()[..(n * set.PixelsPerImage)], set.Pixels);
                }
            },
            iter: 1000 * s_scale,
            threads: 1,
            print: p => $"images {p.images}; labels {p.labels}");
    }

    [Fact]
    public void Cifar_AnyBatch_LoadsConsistentOrIsBadInputNamingTheFile()
    {
        var gen = Gen.Select(
            Gen.OneOf("test_batch.bin", "data_batch_1.bin", "test.bin", "train.bin", "other.bin"),
            Gen.Bool,
            Gen.Frequency((6, Gen.Int[1, 3]), (1, Gen.Const(0))),
            Gen.Frequency((5, Gen.Const(0)), (2, Gen.Int[-3, 3]), (1, Gen.OneOf(-3073, 3073, 3074))),
            Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true))),
            Gen.Byte)
            .Select((name, hundred, records, extra, coarse, fill) => new CifarFile(name, hundred, records, extra, coarse, fill));
        using var dir = new TempDir();

        gen.Sample(
            cifar =>
            {
                string path = dir.File(cifar.Name);
                byte[] bytes = cifar.Bytes();
                File.WriteAllBytes(path, bytes);

                var set = LoadOrBadInput(() => DataLoader.LoadUnsplit(path, new DataOptions { Format = "cifar", CifarLabels = cifar.Coarse ? "coarse" : "fine" }), bytes.Length, path);
                File.Delete(path);
                if (set is null)
                {
                    return;
                }

                Assert.Equal((3, 32, 32), (set.Channels, set.Rows, set.Cols));
                Assert.True(set.Count > 0 && bytes.Length % set.Count == 0, $"{set.Count} records in {bytes.Length} bytes");
                int size = bytes.Length / set.Count;
                Assert.Contains(size, new[] { 3073, 3074 });
                Assert.True(size == 3074 || !(cifar.Coarse || cifar.Name is "test.bin" or "train.bin"), $"read as {size}-byte records");
                Assert.True(size == 3073 || !cifar.Name.Contains("_batch", StringComparison.Ordinal), $"read as {size}-byte records");
                int header = size - 3072;
                for (int r = 0; r < set.Count; r++)
                {
                    Assert.Equal(bytes[(r * size) + (cifar.Coarse ? 0 : header - 1)], set.Labels[r]);
                    Assert.True(bytes.AsSpan((r * size) + header, 3072).SequenceEqual(set.Image(r)), $"pixels of record {r}");
                }
            },
            iter: 300 * s_scale,
            threads: 1);
    }

    [Fact]
    public void Npy_AnyHeaders_LoadConsistentOrIsBadInputNamingTheFile()
    {
        var container = Gen.Frequency((3, Gen.Const("npy")), (2, Gen.Const("npz")), (1, Gen.Const("npz cut")));
        var gen = s_npyImages.SelectMany(images => Gen.Select(
            Npy(
                [1],
                Gen.Frequency((6, Gen.Const(images.Shape.FirstOrDefault("1"))), (1, s_shapeDim)),
                Gen.Frequency((6, Gen.OneOf("<i8", "|u1")), (2, Gen.OneOf("<i4", "<f4", "<f8", "<u8", "|i1")), (1, Gen.OneOf(">i8", "|S3", "")))),
            container,
            Gen.Int[0, 400])
            .Select((labels, c, cut) => new NpyPair(images, labels, c, cut)));
        using var dir = new TempDir();
        string imagesPath = dir.File("images.npy"), labelsPath = dir.File("labels.npy"), npzPath = dir.File("d.npz");

        gen.Sample(
            pair =>
            {
                ImageSet? set;
                if (pair.Container == "npy")
                {
                    byte[] imageBytes = pair.Images.Bytes(), labelBytes = pair.Labels.Bytes();
                    File.WriteAllBytes(imagesPath, imageBytes);
                    File.WriteAllBytes(labelsPath, labelBytes);
                    set = LoadOrBadInput(() => DataLoader.LoadUnsplit(null, new DataOptions { Format = "npy", ImagesFile = imagesPath, LabelsFile = labelsPath }), imageBytes.Length + labelBytes.Length, imagesPath, labelsPath);
                }
                else
                {
                    byte[] zip = pair.Npz();
                    File.WriteAllBytes(npzPath, zip);
                    set = LoadOrBadInput(() => DataLoader.LoadUnsplit(npzPath, new DataOptions()), zip.Length, npzPath);
                }

                if (set is null)
                {
                    return;
                }

                // Python's tuple: an empty last entry is the trailing comma of "(3, 3, 2, )", not a size (CsCheck seed 1G2V9NYi7ka1).
                string[] sizes = pair.Images.Shape;
                long[] shape = [.. sizes.Where((d, i) => !(i == sizes.Length - 1 && d.Trim().Length == 0)).Select(d => long.Parse(d, NumberStyles.Integer, CultureInfo.InvariantCulture))];
                Assert.Equal(shape[0], set.Count);
                Assert.All(set.Labels, l => Assert.True(l >= 0, $"label {l}"));
                long perSample = shape[1..].Aggregate(1L, (a, d) => a * d);
                Assert.Equal(perSample, set.IsFrames ? (long)set.TimeSteps * set.PixelsPerImage : set.PixelsPerImage);
                Assert.Equal(shape.Length == 5, set.IsFrames);
                if (!set.IsFrames)
                {
                    Assert.Equal(set.Count * perSample, set.Pixels.LongLength);
                }
            },
            iter: 1000 * s_scale,
            threads: 1,
            print: p => p.ToString());
    }

    /// <summary>
    /// What the IDX property found first (CsCheck seed 4MHaDg_idZH1): sizes whose product passes 2^63 wrapped to a negative
    /// byte count (allocating it threw OverflowException) or to 0 (an empty array under huge sizes).
    /// </summary>
    [Theory]
    [InlineData(new[] { 65536, int.MaxValue, int.MaxValue }, "65536x2147483647x2147483647")]
    [InlineData(new[] { 1 << 30, 1 << 30, 16 }, "1073741824x1073741824x16")]
    public void Idx_SizesOverflowingALong_IsBadInputNamingTheFile(int[] dims, string named)
    {
        using var dir = new TempDir();
        string path = dir.File(IdxReader.TestImagesName);
        File.WriteAllBytes(path, new IdxFile([0, 0, 8], dims, DataLength: 60, Gzip: false, Cut: -1, Fill: 243).Bytes());

        var e = Assert.Throws<BadInputException>(() => IdxReader.ReadUnsignedBytes(path));

        Assert.Equal($"{path}: sizes {named} declare more bytes than a 64-bit count holds", e.Message);
    }

    /// <summary>
    /// What the .npy property found first (CsCheck seed 7taqcnAOsw91): the same wrap in the shape's byte count; wrapped to 0,
    /// the labels reader then allocated for 2^30 labels it did not have.
    /// </summary>
    [Theory]
    [InlineData("|u1", new[] { "65536", "1073741824", "2147483647" })]
    [InlineData("<i8", new[] { "1073741824", "1073741824", "16" })]
    public void Npy_ShapeOverflowingALong_IsBadInputNamingTheFile(string descr, string[] shape)
    {
        using var dir = new TempDir();
        string path = dir.File("labels.npy");
        File.WriteAllBytes(path, new NpyFile("\x93NUMPY", 1, descr, "False", shape, [true, true, true], HeaderDelta: 0, DataLength: 49, Cut: -1, Fill: 73).Bytes());

        var e = Assert.Throws<BadInputException>(() => NpyReader.ReadFile(path));

        Assert.Equal($"{path}: shape ({string.Join(", ", shape)}) of {descr} declares more bytes than a 64-bit count holds", e.Message);
    }

    /// <summary>
    /// The property's oracle had this wrong (CsCheck seed 1G2V9NYi7ka1), the reader not: "(3, 3, 2, )" is Python's tuple
    /// (3, 3, 2), a trailing comma followed by a space.
    /// </summary>
    [Fact]
    public void Npy_TrailingCommaAndSpace_IsTheTupleBeforeIt()
    {
        using var dir = new TempDir();
        string path = dir.File("images.npy");
        File.WriteAllBytes(path, new NpyFile("\x93NUMPY", 1, "|u1", "False", ["3", "3", "2", ""], [true, true, true], HeaderDelta: 0, DataLength: 18, Cut: -1, Fill: 7).Bytes());

        var array = NpyReader.ReadFile(path);

        Assert.Equal([3, 3, 2], array.Shape);
    }

    /// <summary>
    /// Found by CI's CsCheck seed 3CpL_z6AOEn1: a shape with an empty entry, "(1, 4, , 1)", is no Python tuple, yet the reader
    /// dropped the entry and read (1, 4, 1). Only a trailing comma ("(5,)") may leave an entry empty.
    /// </summary>
    [Fact]
    public void Npy_ShapeWithAnEmptyEntry_IsBadInputNamingTheFile()
    {
        using var dir = new TempDir();
        string path = dir.File("images.npy");
        File.WriteAllBytes(path, new NpyFile("\x93NUMPY", 1, "|u1", "False", ["1", "4", "", "1"], [true, true, true], HeaderDelta: 0, DataLength: 4, Cut: -1, Fill: 2).Bytes());

        var e = Assert.Throws<BadInputException>(() => NpyReader.ReadFile(path));

        Assert.StartsWith($"{path}: shape (", e.Message, StringComparison.Ordinal);
        Assert.EndsWith(") is not a tuple of sizes", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The set, or null when loading it was bad input naming one of <paramref name="files"/>; either way within the allocation bound.</summary>
    private static ImageSet? LoadOrBadInput(Func<ImageSet> load, long fileBytes, params string[] files)
    {
        long budget = (64L << 20) + (16 * fileBytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            return load();
        }
        catch (BadInputException e) when (files.Any(f => e.Message.Contains(f, StringComparison.Ordinal)))
        {
            return null;
        }
        finally
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < budget, $"allocated {allocated:N0} bytes for {fileBytes:N0} bytes of input (budget {budget:N0})");
        }
    }

    /// <summary>
    /// IDX files of rank <paramref name="ranks"/> (mostly), first size from <paramref name="first"/>; half of them with a
    /// damaged magic, data length or cut (which shrinks to undamaged).
    /// </summary>
    private static Gen<IdxFile> Idx(int[] ranks, Gen<int> first) =>
        Gen.Frequency((8, Gen.OneOf(ranks)), (1, Gen.Int[0, 6]))
            .SelectMany(rank => Gen.Select(first, Gen.Frequency((3, Gen.Int[1, 4].Array[Math.Max(rank - 1, 0)]), (2, s_dim.Array[Math.Max(rank - 1, 0)])))
                .Select(int[] (n, rest) => rank == 0 ? [] : [n, .. rest]))
            .SelectMany(dims => Gen.Bool.SelectMany(damaged => Gen.Select(
                damaged ? Gen.Frequency((6, Gen.Const(new byte[] { 0, 0, 8 })), (1, Gen.Byte.Array[3])) : Gen.Const(new byte[] { 0, 0, 8 }),
                DataLength(Declared(dims.Select(d => (long)d), 1), damaged),
                Gen.Bool,
                damaged ? s_cut : Gen.Const(-1),
                Gen.Byte)
                .Select((magic, length, gzip, cut, fill) => new IdxFile(magic, dims, length, gzip, cut, fill))));

    /// <summary>
    /// .npy files of rank <paramref name="ranks"/> (mostly), first size from <paramref name="first"/>; half of them with a
    /// damaged magic, version, fortran_order, dict keys, header length, data length or cut (which shrinks to undamaged).
    /// </summary>
    private static Gen<NpyFile> Npy(int[] ranks, Gen<string> first, Gen<string> descr) =>
        Gen.Frequency((8, Gen.OneOf(ranks)), (1, Gen.Int[0, 6]))
            .SelectMany(rank => Gen.Select(first, Gen.Frequency((3, s_smallDim.Array[Math.Max(rank - 1, 0)]), (2, s_shapeDim.Array[Math.Max(rank - 1, 0)])))
                .Select(string[] (n, rest) => rank == 0 ? [] : [n, .. rest]))
            .SelectMany(shape => Gen.Bool.SelectMany(damaged => Gen.Select(
                damaged ? Gen.Frequency((6, Gen.Const("\x93NUMPY")), (1, Gen.OneOf("\x93NUMPZ", "NUMPY!", "\x93numpy"))) : Gen.Const("\x93NUMPY"),
                damaged ? Gen.Frequency((3, Gen.Const((byte)1)), (2, Gen.Const((byte)2)), (1, Gen.Const((byte)3)), (1, Gen.OneOf<byte>(0, 4, 255))) : Gen.Const((byte)1),
                descr,
                damaged ? Gen.Frequency((4, Gen.Const("False")), (1, Gen.Const("True")), (1, Gen.OneOf("0", "false"))) : Gen.Const("False"),
                damaged ? Gen.Frequency((4, Gen.Const(true)), (1, Gen.Const(false))).Array[3] : Gen.Const(new[] { true, true, true }),
                damaged ? Gen.Frequency((4, Gen.Const(0L)), (2, Gen.Long[-16, 16]), (1, Gen.OneOf(65535L, 1L << 20, (long)uint.MaxValue))) : Gen.Const(0L),
                Gen.Byte)
                .Select((magic, major, d, fortran, keys, headerDelta, fill) => new NpyFile(magic, major, d, fortran, shape, keys, headerDelta, 0, -1, fill))
                .SelectMany(npy => Gen.Select(DataLength(Declared(npy.Shape.Select(ParseDim), ItemSize(npy.Descr)), damaged), damaged ? s_cut : Gen.Const(-1))
                    .Select((length, cut) => npy with { DataLength = length, Cut = cut }))));

    /// <summary>
    /// Data lengths of <paramref name="declared"/> bytes when that is small, else a few bytes; <paramref name="damaged"/>:
    /// sometimes a few bytes off or any few bytes.
    /// </summary>
    private static Gen<int> DataLength(long declared, bool damaged) => (declared is >= 0 and <= 1 << 14, damaged) switch
    {
        (true, false) => Gen.Const((int)declared),
        (true, true) => Gen.Frequency((2, Gen.Const((int)declared)), (2, Gen.Int[-3, 3].Select(d => Math.Max(0, (int)declared + d))), (1, Gen.Int[0, 64])),
        _ => Gen.Int[0, 64],
    };

    /// <summary>The product of the sizes times <paramref name="itemSize"/>, or -1 when a size is negative or the product is over 2^40.</summary>
    private static long Declared(IEnumerable<long> dims, int itemSize)
    {
        long total = itemSize;
        foreach (long d in dims)
        {
            if (d < 0 || (d > 0 && total > (1L << 40) / d))
            {
                return -1;
            }

            total *= d;
        }

        return total;
    }

    private static long ParseDim(string d) => long.TryParse(d, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : -1;

    private static int ItemSize(string descr) => descr switch
    {
        "<u2" or "<i2" => 2,
        "<u4" or "<i4" or "<f4" or ">f4" => 4,
        "<u8" or "<i8" or "<f8" or "<c8" => 8,
        _ => 1,
    };

    private static byte[] Cut(byte[] bytes, int cut) => cut >= 0 && cut < bytes.Length ? bytes[..cut] : bytes;

    /// <param name="Magic">The first three header bytes: two zeros and the element type (0x08, unsigned byte).</param>
    /// <param name="Dims">The sizes; the rank byte is their count.</param>
    /// <param name="DataLength">Bytes of data after the sizes.</param>
    /// <param name="Cut">Where the file (gzipped or not) is cut off; -1: not cut.</param>
    private sealed record IdxFile(byte[] Magic, int[] Dims, int DataLength, bool Gzip, int Cut, byte Fill)
    {
        public byte[] Data() => [.. Enumerable.Range(0, DataLength).Select(i => (byte)(Fill + (i * 7)))];

        public byte[] Bytes()
        {
            var bytes = new byte[4 + (4 * Dims.Length) + DataLength];
            Magic.CopyTo(bytes, 0);
            bytes[3] = (byte)Dims.Length;
            for (int d = 0; d < Dims.Length; d++)
            {
                BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + (4 * d)), Dims[d]);
            }

            Data().CopyTo(bytes, 4 + (4 * Dims.Length));
            return DataHeaderPropertyTests.Cut(Gzip ? Compress(bytes) : bytes, Cut);
        }

        public override string ToString() =>
            $"magic {Convert.ToHexString(Magic)}, dims [{string.Join(", ", Dims)}], {DataLength} data bytes (fill {Fill}){(Gzip ? ", gzip" : "")}{(Cut >= 0 ? $", cut at {Cut}" : "")}";

        private static byte[] Compress(byte[] bytes)
        {
            using var output = new MemoryStream();
            using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            {
                gzip.Write(bytes);
            }

            return output.ToArray();
        }
    }

    /// <param name="Records">Whole records before <paramref name="Extra"/> bytes are added (or, negative, taken off).</param>
    private sealed record CifarFile(string Name, bool Hundred, int Records, int Extra, bool Coarse, byte Fill)
    {
        public byte[] Bytes()
        {
            int size = Hundred ? 3074 : 3073;
            var bytes = new byte[Math.Max(0, (Records * size) + Extra)];
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)(Fill + (i * 37) + (i / size));
            }

            return bytes;
        }
    }

    /// <param name="Magic">The six magic characters (Latin-1).</param>
    /// <param name="Keys">Whether the dict has descr, fortran_order, shape.</param>
    /// <param name="HeaderDelta">Added to the true header length in the length field.</param>
    private sealed record NpyFile(string Magic, byte Major, string Descr, string Fortran, string[] Shape, bool[] Keys, long HeaderDelta, int DataLength, int Cut, byte Fill)
    {
        public byte[] Bytes()
        {
            string dims = string.Join(", ", Shape) + (Shape.Length == 1 ? "," : "");
            var entries = new[] { $"'descr': '{Descr}'", $"'fortran_order': {Fortran}", $"'shape': ({dims})" }.Where((_, k) => Keys[k]);
            string dict = "{" + string.Join(", ", entries) + ", }";
            int prefix = Major == 1 ? 10 : 12;
            dict = dict.PadRight(dict.Length + ((64 - ((prefix + dict.Length + 1) % 64)) % 64)) + "\n";
            long declared = dict.Length + HeaderDelta;

            var bytes = new List<byte>(Encoding.Latin1.GetBytes(Magic)) { Major, 0 };
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)declared);
            bytes.AddRange(length[..(Major == 1 ? 2 : 4)].ToArray());
            bytes.AddRange(Encoding.Latin1.GetBytes(dict));
            bytes.AddRange(Data());
            return DataHeaderPropertyTests.Cut([.. bytes], Cut);
        }

        /// <summary>Elements (Fill + 7i) mod 258 − 2 in the dtype, so that some labels and pixels are negative or over 255; raw bytes for other dtypes.</summary>
        private byte[] Data()
        {
            int itemSize = ItemSize(Descr);
            var data = new byte[DataLength + 8];
            for (int i = 0; i * itemSize < DataLength; i++)
            {
                int v = ((Fill + (i * 7)) % 258) - 2;
                var at = data.AsSpan(i * itemSize);
                switch (Descr)
                {
                    case "<u2" or "<i2": BinaryPrimitives.WriteInt16LittleEndian(at, (short)v); break;
                    case "<u4" or "<i4": BinaryPrimitives.WriteInt32LittleEndian(at, v); break;
                    case "<u8" or "<i8": BinaryPrimitives.WriteInt64LittleEndian(at, v); break;
                    case "<f4": BinaryPrimitives.WriteSingleLittleEndian(at, v); break;
                    case "<f8": BinaryPrimitives.WriteDoubleLittleEndian(at, v); break;
                    case ">f4": BinaryPrimitives.WriteSingleBigEndian(at, v); break;
                    default: at[0] = (byte)v; break;
                }
            }

            return data[..DataLength];
        }

        public override string ToString() =>
            $"'{Magic.Replace("\x93", "\\x93", StringComparison.Ordinal)}' v{Major} {{{(Keys[0] ? $"descr '{Descr}' " : "")}{(Keys[1] ? $"fortran_order {Fortran} " : "")}" +
            $"{(Keys[2] ? $"shape ({string.Join(", ", Shape)})" : "")}}} header length {(HeaderDelta == 0 ? "true" : $"true {HeaderDelta:+#;-#}")}, {DataLength} data bytes (fill {Fill}){(Cut >= 0 ? $", cut at {Cut}" : "")}";
    }

    /// <param name="Container"><c>npy</c>: images.npy and labels.npy; <c>npz</c>: one archive of x.npy and y.npy; <c>npz cut</c>: that archive cut at <paramref name="ZipCut"/>.</param>
    private sealed record NpyPair(NpyFile Images, NpyFile Labels, string Container, int ZipCut)
    {
        public byte[] Npz()
        {
            using var output = new MemoryStream();
            using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
            {
                foreach (var (name, npy) in new[] { ("x.npy", Images), ("y.npy", Labels) })
                {
                    using var stream = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
                    stream.Write(npy.Bytes());
                }
            }

            byte[] bytes = output.ToArray();
            return Container == "npz cut" ? bytes[..Math.Min(ZipCut, bytes.Length)] : bytes;
        }

        public override string ToString() => $"{Container}{(Container == "npz cut" ? $" at {ZipCut}" : "")}: images {Images}; labels {Labels}";
    }
}
