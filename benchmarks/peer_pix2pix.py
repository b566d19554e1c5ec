"""The peer: the original CIFAR-10 colorization GAN ported to Keras 3 as a user would from the
TensorFlow pix2pix tutorial, with nothing of tfcolor. `benchmarks.train_throughput` runs it in its own
process, in whatever environment it is given, beside tfcolor.

    python -m benchmarks.peer_pix2pix [--batch-size 64] [--steps 10]   # prints one JSON line

The tables are the original code's (SEED.md): U-Net encoder (64,1) (128,2) (256,2) (512,2) (512,2),
decoder (512,2,0.5) (256,2,0.5) (128,2) (64,2), 1x1 tanh output; PatchGAN (64,2) (128,2) (256,2)
(512,1). Adam with beta1 0, lr 3e-4 (discriminator 3e-5); one tf.function step of one discriminator
update and two generator updates (-log D(G(x)) + 100 L1), on random Lab-scaled data.
"""
import argparse
import json
import time

import keras
import tensorflow as tf

INIT = keras.initializers.RandomNormal(0.0, 0.02)


def downsample(filters, strides, batch_norm=True):
    block = keras.Sequential([keras.layers.Conv2D(filters, 4, strides, padding="same", kernel_initializer=INIT)])
    if batch_norm:
        block.add(keras.layers.BatchNormalization())
    block.add(keras.layers.LeakyReLU(0.2))
    return block


def upsample(filters, dropout):
    block = keras.Sequential([
        keras.layers.Conv2DTranspose(filters, 4, 2, padding="same", kernel_initializer=INIT),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
    ])
    if dropout:
        block.add(keras.layers.Dropout(dropout))
    return block


def generator():
    inputs = keras.Input((32, 32, 1))
    down = [downsample(64, 1), downsample(128, 2), downsample(256, 2), downsample(512, 2), downsample(512, 2)]
    up = [upsample(512, 0.5), upsample(256, 0.5), upsample(128, 0.0), upsample(64, 0.0)]
    x, skips = inputs, []
    for block in down:
        x = block(x)
        skips.append(x)
    for block, skip in zip(up, reversed(skips[:-1])):
        x = keras.layers.Concatenate()([skip, block(x)])
    outputs = keras.layers.Conv2D(2, 1, activation="tanh", kernel_initializer=INIT)(x)
    return keras.Model(inputs, outputs)


def discriminator():
    inputs = keras.Input((32, 32, 3))
    x = downsample(64, 2, batch_norm=False)(inputs)
    x = downsample(128, 2)(x)
    x = downsample(256, 2)(x)
    x = downsample(512, 1)(x)
    return keras.Model(inputs, keras.layers.Conv2D(1, 4, 1, padding="same", kernel_initializer=INIT)(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    gen, disc = generator(), discriminator()
    g_opt, d_opt = keras.optimizers.Adam(3e-4, beta_1=0.0), keras.optimizers.Adam(3e-5, beta_1=0.0)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(l_channel, ab):
        with tf.GradientTape() as tape:
            fake = gen(l_channel, training=True)
            real_logits = disc(tf.concat([l_channel, ab], -1), training=True)
            fake_logits = disc(tf.concat([l_channel, fake], -1), training=True)
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)
        d_opt.apply_gradients(zip(tape.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        for _ in range(2):
            with tf.GradientTape() as tape:
                fake = gen(l_channel, training=True)
                fake_logits = disc(tf.concat([l_channel, fake], -1), training=True)
                g_loss = bce(tf.ones_like(fake_logits), fake_logits) + 100.0 * tf.reduce_mean(tf.abs(fake - ab))
            g_opt.apply_gradients(zip(tape.gradient(g_loss, gen.trainable_variables), gen.trainable_variables))
        return d_loss, g_loss

    l_channel = tf.random.uniform((args.batch_size, 32, 32, 1), -1.0, 1.0)
    ab = tf.random.uniform((args.batch_size, 32, 32, 2), -1.0, 1.0)
    start = time.perf_counter()
    float(train_step(l_channel, ab)[1])
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.steps):
        losses = train_step(l_channel, ab)
    float(losses[1])
    rate = args.steps * args.batch_size / (time.perf_counter() - start)
    # Instrumentation, not part of the port: whether this environment gave TensorFlow oneDNN.
    from tensorflow.python.util import _pywrap_util_port

    print(json.dumps({"first_step_s": first, "images_per_s": rate, "onednn": bool(_pywrap_util_port.IsMklEnabled())}))


if __name__ == "__main__":
    main()
