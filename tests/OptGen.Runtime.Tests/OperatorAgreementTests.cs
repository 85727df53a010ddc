using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Every operator of the expression language gives the same float32 bits on the scalar path and on the
/// Vector128/256/512 paths, for ordinary values and for ±0, ±∞, NaN, subnormals and extremes (see
/// <see cref="AllOperators"/>: one state per operator). The kernel's overloads are called directly, so every width is
/// exercised whatever the hardware accelerates.
/// </summary>
public sealed class OperatorAgreementTests
{
    private const int Outputs = 23;

    private static readonly float[] Special =
    {
        0f, -0f, 1f, -1f, 0.5f, -0.5f, 2f, 3f, 0.25f, 1e-30f, -1e-30f, float.Epsilon, -float.Epsilon,
        float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 88.7f, -103.9f, 1.5e-5f,
    };

    private static IEnumerable<(float P, float G)> Pairs()
    {
        foreach (float p in Special)
        {
            foreach (float g in Special)
            {
                yield return (p, g);
            }
        }

        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            yield return ((float)((random.NextDouble() * 8) - 4), (float)((random.NextDouble() * 8) - 4));
        }
    }

    private static float[] Scalar(KernelCalls kernel, float p, float g)
    {
        var outputs = new float[Outputs];
        kernel.Scalar(p, g, outputs);
        return outputs;
    }

    [Fact]
    public void ScalarAndEveryVectorWidthAgreeBitForBit()
    {
        var kernel = new KernelCalls(AllOperators.CreateKernel(new[] { 0.25 }, 1, 1.0));
        (float P, float G)[] pairs = Pairs().ToArray();
        foreach (int width in new[] { 4, 8, 16 })
        {
            for (int start = 0; start + width <= pairs.Length; start += width)
            {
                float[] p = pairs.Skip(start).Take(width).Select(x => x.P).ToArray();
                float[] g = pairs.Skip(start).Take(width).Select(x => x.G).ToArray();
                float[][] vector = kernel.Vector(width, p, g);
                for (int lane = 0; lane < width; lane++)
                {
                    float[] expected = Scalar(kernel, p[lane], g[lane]);
                    for (int k = 0; k < Outputs; k++)
                    {
                        float a = expected[k], b = vector[k][lane];
                        bool same = BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b) || (float.IsNaN(a) && float.IsNaN(b));
                        Assert.True(same, $"Vector{width * 32}, operator #{k} ({KernelCalls.Names[k]}), p = {p[lane]:R}, g = {g[lane]:R}: scalar {a:R}, vector {b:R}");
                    }
                }
            }
        }
    }

    [Fact]
    public void ScalarOperatorsFollowTheirDefinitions()
    {
        var kernel = new KernelCalls(AllOperators.CreateKernel(new[] { 0.25 }, 1, 1.0));
        float[] r = Scalar(kernel, 2f, -3f);
        Assert.Equal(new[] { -1f, 5f, -6f, 2f / -3f, 3f }, r.Take(5));
        Assert.True(float.IsNaN(r[5]) && float.IsNaN(r[6]));          // sqrt, rsqrt of −3
        Assert.Equal(new[] { 3f, -1f, -3f, 2f, -1f, 2f + (0.25f * (-3f - 2f)) }, r.Skip(7).Take(6));
        Assert.Equal(MathF.Exp(-3f), r[13]);
        Assert.True(float.IsNaN(r[14]));
        Assert.Equal(new[] { 0f, 0f, 1f, 1f, 0f, 1f, 2f, 2f }, r.Skip(15));   // lt lte gt gte eq ne sel cond(g<0 → p)

        Assert.Equal(-0f, Scalar(kernel, 1f, -0f)[8]);                  // sign(−0) = −0
        Assert.True(float.IsNaN(Scalar(kernel, 1f, float.NaN)[8]));     // sign(NaN) = NaN
        Assert.Equal(1f / MathF.Sqrt(4f), Scalar(kernel, 1f, 4f)[6]);
        Assert.Equal(-5f, Scalar(kernel, 5f, 3f)[22]);                  // g > 1 → −p
        Assert.Equal(1f, Scalar(kernel, 5f, 0.5f)[22]);                 // else 2g
    }

    /// <summary>
    /// Calls the generated kernel's Invoke overloads by reflection (the kernel struct's name is a hash of its
    /// program): the arguments are p, g and one ref output per operator.
    /// </summary>
    private sealed class KernelCalls
    {
        public static readonly string[] Names =
        {
            "sum", "dif", "prd", "quo", "neg", "sq", "rs", "ab", "sg", "mn", "mx", "cl", "le", "ex", "lg", "lt", "lte", "gt", "gte", "eq", "ne", "sel", "cond",
        };

        private readonly object _kernel;

        public KernelCalls(object kernel) => _kernel = kernel;

        public void Scalar(float p, float g, float[] outputs)
        {
            object[] args = Arguments(p, g, 0f);
            Invoke(typeof(float), args);
            for (int k = 0; k < Outputs; k++)
            {
                outputs[k] = (float)args[2 + k];
            }
        }

        public float[][] Vector(int width, float[] p, float[] g)
        {
            (Type type, object vp, object vg, object zero) = width switch
            {
                4 => (typeof(Vector128<float>), (object)Vector128.Create(p), (object)Vector128.Create(g), (object)Vector128<float>.Zero),
                8 => (typeof(Vector256<float>), Vector256.Create(p), Vector256.Create(g), Vector256<float>.Zero),
                _ => (typeof(Vector512<float>), Vector512.Create(p), Vector512.Create(g), Vector512<float>.Zero),
            };
            object[] args = Arguments(vp, g: vg, zero);
            Invoke(type, args);
            var result = new float[Outputs][];
            for (int k = 0; k < Outputs; k++)
            {
                result[k] = new float[width];
                for (int lane = 0; lane < width; lane++)
                {
                    result[k][lane] = args[2 + k] switch
                    {
                        Vector128<float> v => v.GetElement(lane),
                        Vector256<float> v => v.GetElement(lane),
                        Vector512<float> v => v.GetElement(lane),
                        _ => throw new InvalidOperationException(),
                    };
                }
            }

            return result;
        }

        private static object[] Arguments(object p, object g, object zero)
        {
            var args = new object[2 + Outputs];
            args[0] = p;
            args[1] = g;
            for (int k = 0; k < Outputs; k++)
            {
                args[2 + k] = zero;
            }

            return args;
        }

        private void Invoke(Type lane, object[] args)
        {
            System.Reflection.MethodInfo method = _kernel.GetType().GetMethods()
                .Single(m => m.Name == "Invoke" && m.GetParameters()[1].ParameterType == lane);
            Assert.Equal(2 + Outputs, method.GetParameters().Length);
            method.Invoke(_kernel, args);
        }
    }
}
